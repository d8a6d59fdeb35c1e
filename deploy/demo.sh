#!/usr/bin/env bash
# demo.sh — hoist end to end on this machine, no Docker needed (make demo).
#
# Makes a release repository with two signed releases (deploy/demo/), an app
# root with v1.0.0 installed, starts hoist-supervisor and hoist-manager on
# 127.0.0.1, asks the manager's API for the update, and shows its progress
# until v1.1.0 is installed. Then it keeps running so you can look at the web
# page, until Ctrl-C, which stops everything and removes the temporary files.
#
# Environment: HOIST_BIN (default ./bin), DEMO_PORT (default 3006, or the next
# free port), DEMO_EXIT=1 to exit after the update (the default when not run
# from a terminal), DEMO_EXIT=0 to wait for Ctrl-C anyway, DEMO_KEEP=1 to keep
# the temporary directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOIST_BIN:-$repo/bin}
export PATH="$bin:$PATH" # the update trigger runs `hoist`

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

for b in hoist hoist-supervisor hoist-manager; do
	[[ -x $bin/$b ]] || die "$bin/$b is missing: run make build"
done
for c in git curl; do
	command -v "$c" >/dev/null || die "$c is needed (apt-get install $c)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hoist-demo.XXXXXX")
pids=()
succeeded=0
cleanup() {
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${DEMO_KEEP:-0} == 1 ]]; then
		echo "demo: kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
# Ctrl-C: after a successful update that is how the demo ends.
trap 'echo; echo "demo: stopping"; exit $((succeeded ? 0 : 130))' INT TERM

# free_port N prints N or the first free port after it.
free_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port from $1"
}

# logs_of NAME prints the end of a process's log, to explain a failure.
logs_of() {
	echo "--- last lines of $1.log:" >&2
	tail -n 20 "$work/$1.log" >&2 || true
}

say "Signing two releases with a fresh demo key"
hoist release keygen --out "$work/keys/demo" >/dev/null
for v in v1.0.0 v1.1.0; do
	HOIST="$bin/hoist" "$repo/deploy/publish-release.sh" --key "$work/keys/demo.key" \
		--repo "$work/releases" "$v" "$repo/deploy/demo/release" "$repo/deploy/demo/$v"
done

say "Installing v1.0.0 into a new app root"
root=$work/root
hoist init "$root" --repo "file://$work/releases" --pub "$work/keys/demo.pub" \
	--manager-uid "$(id -u)" --manager-gid "$(id -g)"
hoist apply --root "$root" --to v1.0.0

say "Starting hoist-supervisor and hoist-manager"
port=$(free_port "${DEMO_PORT:-3006}")
url=http://127.0.0.1:$port
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token")
token=$(<"$work/token")
hoist-supervisor --root "$root" >"$work/supervisor.log" 2>&1 &
pids+=($!)
hoist-manager --root "$root" --listen "127.0.0.1:$port" --releases "file://$work/releases" \
	--token-file "$work/token" --check-interval 0 >"$work/manager.log" 2>&1 &
pids+=($!)
for ((i = 0; ; i++)); do
	curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && break
	if ((i >= 100)) || ! kill -0 "${pids[@]}" 2>/dev/null; then
		logs_of supervisor
		logs_of manager
		die "the manager did not answer on $url"
	fi
	sleep 0.1
done
echo "manager on $url, supervisor watching $root/events/signals/"

api() { curl -fsS -H "Authorization: Bearer $token" "$@"; }
say "GET /v1/system/get-update"
api "$url/v1/system/get-update"
echo
say "POST /v1/system/update"
api -X POST "$url/v1/system/update"
echo
say "Progress (hoist status --watch)"
if ! hoist status --watch --root "$root"; then
	logs_of supervisor
	cat "$root/.hoist/logs/last-failure.log" >&2 2>/dev/null || true
	die "the update failed"
fi
succeeded=1

say "Installed now (GET /v1/system/info)"
api "$url/v1/system/info"
echo
cat "$root/app/hello.txt"

say "Web page: $url/"
echo "API token: $token"
interactive=0
[[ -t 0 ]] && interactive=1
if [[ ${DEMO_EXIT:-$((1 - interactive))} == 1 ]]; then
	exit 0
fi
echo "Press Ctrl-C to stop the demo."
# Returns on Ctrl-C (the trap ends the demo) or if the supervisor stops.
wait "${pids[0]}" || true
logs_of supervisor
die "hoist-supervisor stopped"
