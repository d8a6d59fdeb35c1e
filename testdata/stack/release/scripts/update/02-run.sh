#!/usr/bin/env bash
# Health check: every service must answer /healthz with the installed
# version within HEALTH_TIMEOUT seconds. Runs on the host with bash's
# /dev/tcp, so neither the images (FROM scratch) nor the node need curl.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
version=$(installed_version)

# healthz PORT prints "STATUS-LINE: BODY" of GET /healthz.
healthz() {
	local resp
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
	resp=$(timeout 5 cat <&3 | tr -d '\r') || true
	exec 3<&-
	echo "${resp%%$'\n'*}: ${resp##*$'\n\n'}"
}

deadline=$((SECONDS + HEALTH_TIMEOUT))
n=0
for svc in "${services[@]}"; do
	name=${svc%%:*} port=${svc#*:}
	n=$((n + 1))
	echo "::progress $((100 * (n - 1) / ${#services[@]})) Waiting for $name to answer $version"
	answer=""
	until answer=$(healthz "$port" 2>/dev/null) && [[ $answer == *" 200 "*": ok $version" ]]; do
		if ((SECONDS >= deadline)); then
			echo "health check failed: $name on port $port did not answer \"ok $version\" within ${HEALTH_TIMEOUT}s; last answer: ${answer:-none}" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "$name answers ok $version"
done
