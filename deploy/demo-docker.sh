#!/usr/bin/env bash
# demo-docker.sh — the real deployment on this machine's Docker (make demo-docker).
#
# Like demo.sh, but the manager runs as the image built from the Dockerfile
# (uid 1000, only compose.yaml's mounts), and the releases are the sample
# stack of testdata/stack/: two FROM scratch services that 01-run.sh builds and
# starts with the docker CLI and 02-run.sh health-checks. The update v1.0.0 →
# v2.0.0 is requested through the manager's API; then the services answer
# 2.0.0. Containers use the host's network. Needs Docker, Go (to build the
# sample server) and root (the manager's files belong to uid 1000).
#
# Environment: as demo.sh (HOIST_BIN, DEMO_PORT, DEMO_EXIT, DEMO_KEEP);
# DOCKER_HOST is passed on to the stack's scripts.
. "$(dirname "$0")/demo-common.sh"
need git curl docker go
docker info >/dev/null 2>&1 || die "Docker is not available (docker info failed); start dockerd or set DOCKER_HOST"
((EUID == 0)) || die "run as root: the manager container's files belong to uid 1000"

say "Building the manager image and the sample stack's server"
image=hoist-manager:demo
"$repo/deploy/build-image.sh" "$image"
mkdir -p "$work/server/stack"
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/server/stack/stack-server" ./testdata/stack/server)

say "Signing two releases of the sample stack"
keygen
for v in 1.0.0 2.0.0; do
	mkdir -p "$work/v$v"
	printf '{"version":"%s","app":"sample-stack","name":"sample stack","notes":"two services answering %s"}\n' "$v" "$v" >"$work/v$v/info.json"
	publish "v$v" "$repo/testdata/stack/release" "$work/server" "$work/v$v"
done
# The manager container reads the releases over git:// like a remote.
git_port=$(free_port $((20000 + RANDOM % 20000)))
git daemon --reuseaddr --export-all --base-path="$work" --listen=127.0.0.1 --port="$git_port" "$work" \
	>"$work/git-daemon.log" 2>&1 &
pids+=($!)
wait_port "$git_port"
releases=git://127.0.0.1:$git_port/releases

say "Installing v1.0.0: the stack comes up"
root=$work/root
hoist init "$root" --repo "$releases" --pub "$work/keys/demo.pub"
web=$(free_port 18081)
api_port=$(free_port $((web + 1)))
mkdir -p "$root/data"
printf 'WEB_PORT=%s\nAPI_PORT=%s\n' "$web" "$api_port" >"$root/data/stack.env"
[[ -n ${DOCKER_HOST:-} ]] && echo "DOCKER_HOST=$DOCKER_HOST" >>"$root/data/stack.env"
on_exit+=("docker rm -f hoist-stack-web hoist-stack-api")
hoist apply --root "$root" --to v1.0.0
curl -fsS "http://127.0.0.1:$web/"

say "Starting hoist-supervisor (host) and the hoist-manager container"
port=$(free_port "${DEMO_PORT:-3006}")
url=http://127.0.0.1:$port
make_token
chown 1000:1000 "$work/token"
start_supervisor "$root"
name=hoist-manager-demo-$$
on_exit+=("docker rm -f $name")
docker run -d --name "$name" --network host \
	--user 1000:1000 --read-only --cap-drop ALL --security-opt no-new-privileges:true \
	--mount "type=bind,source=$root/statuses,target=/app/statuses" \
	--mount "type=bind,source=$root/events/signals,target=/app/events/signals" \
	--mount "type=bind,source=$root/info.json,target=/app/info.json,readonly" \
	--mount "type=bind,source=$work/token,target=/run/secrets/hoist_token,readonly" \
	"$image" --listen "127.0.0.1:$port" --token-file /run/secrets/hoist_token \
	--releases "$releases" --check-interval 0 >/dev/null
wait_manager "$url" "[[ \$(docker inspect -f '{{.State.Running}}' $name) == true ]] || { docker logs $name >'$work/manager.log' 2>&1; false; }"
echo "manager container $name on $url"

update_and_watch "$url" "$root"
say "The services now answer"
curl -fsS "http://127.0.0.1:$web/"
curl -fsS "http://127.0.0.1:$api_port/"
show_page "$url"
