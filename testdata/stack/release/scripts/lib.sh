# Sourced by the update scripts. Node-local settings live in data/stack.env,
# which hoist never writes (data/ is protected): the ports of the services,
# DOCKER_HOST, how long the health check waits.
# shellcheck shell=bash
root=${HOIST_ROOT:?run by hoist apply}
WEB_PORT=8081
API_PORT=8082
HEALTH_TIMEOUT=30
if [[ -f $root/data/stack.env ]]; then
	set -a # DOCKER_HOST must reach docker
	# shellcheck disable=SC1091
	. "$root/data/stack.env"
	set +a
fi
services=("web:$WEB_PORT" "api:$API_PORT")

# installed_version prints the version in the live info.json.
installed_version() {
	sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' "$root/info.json"
}
