#!/usr/bin/env bash
# Brings the stack up at the installed release: builds the image from the
# release's static server and info.json, then replaces both containers.
# Also run by hoist to bring the old release back after a failed update.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$root"
version=$(installed_version)
image=hoist-stack:$version
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp stack/Dockerfile stack/stack-server info.json "$ctx"/
echo "::progress 10 Building $image"
# The build's own chatter (e.g. the legacy builder's notice) only on failure.
if ! out=$(docker build -q -t "$image" "$ctx" 2>&1); then
	echo "$out" >&2
	exit 1
fi
args=()
if [[ -f stack/args ]]; then
	read -ra args <stack/args
fi
n=0
for svc in "${services[@]}"; do
	name=${svc%%:*} port=${svc#*:}
	n=$((n + 1))
	echo "::progress $((10 + 40 * n)) Starting $name $version on port $port"
	docker rm -f "hoist-stack-$name" >/dev/null 2>&1 || true
	docker run -d --name "hoist-stack-$name" --network host --restart unless-stopped \
		--read-only --cap-drop ALL --label hoist.stack=sample \
		"$image" -name "$name" -listen "127.0.0.1:$port" "${args[@]}" >/dev/null
done
