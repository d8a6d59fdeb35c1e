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
# the temporary directory, DEMO_SOURCE=static to publish and update from a
# static release repository (TUF metadata and objects/) instead of git tags.
. "$(dirname "$0")/demo-common.sh"
need git curl

say "Signing two releases with a fresh demo key"
keygen
releases=file://$work/releases
for v in v1.0.0 v1.1.0; do
	publish "$v" "$repo/deploy/demo/release" "$repo/deploy/demo/$v"
	if [[ ${DEMO_SOURCE:-git} == static ]]; then
		# The same signed tree, into a TUF-secured static repository.
		hoist release publish --key "$work/keys/demo.key" --out "$work/site" "$work/releases"
		releases=file://$work/site
	fi
done

say "Installing v1.0.0 into a new app root (releases from $releases)"
root=$work/root
hoist init "$root" --repo "$releases" --pub "$work/keys/demo.pub" \
	--manager-uid "$(id -u)" --manager-gid "$(id -g)"
hoist apply --root "$root" --to v1.0.0

say "Starting hoist-supervisor and hoist-manager"
port=$(free_port "${DEMO_PORT:-3006}")
url=http://127.0.0.1:$port
make_token
start_supervisor "$root"
hoist-manager --root "$root" --listen "127.0.0.1:$port" --releases "$releases" \
	--token-file "$work/token" --check-interval 0 >"$work/manager.log" 2>&1 &
pids+=($!)
wait_manager "$url" 'kill -0 "${pids[@]}" 2>/dev/null'
echo "manager on $url, supervisor watching $root/events/signals/"

update_and_watch "$url" "$root"
cat "$root/app/hello.txt"
show_page "$url"
