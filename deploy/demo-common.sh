# demo-common.sh — sourced by demo.sh and demo-docker.sh: the steps both
# demos share (temporary directory, signed releases, the supervisor, the
# update through the manager's API, Ctrl-C handling).
# shellcheck shell=bash
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${HOIST_BIN:-$repo/bin}
export PATH="$bin:$PATH" # the update trigger runs `hoist`

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

# need CMD... checks the hoist binaries and the given commands are there.
need() {
	local b
	for b in hoist hoist-supervisor hoist-manager; do
		[[ -x $bin/$b ]] || die "$bin/$b is missing: run make build"
	done
	for b in "$@"; do
		command -v "$b" >/dev/null || die "$b is needed (apt-get install $b)"
	done
}

work=$(mktemp -d "${TMPDIR:-/tmp}/hoist-demo.XXXXXX")
pids=()          # background processes, stopped at the end
on_exit=()       # more commands to run at the end (e.g. remove containers)
succeeded=0
cleanup() {
	trap - EXIT INT TERM
	local pid c
	for c in "${on_exit[@]}"; do
		eval "$c" >/dev/null 2>&1 || true
	done
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

# wait_port PORT waits until something listens on 127.0.0.1:PORT.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
		sleep 0.1
	done
	die "nothing listens on port $1"
}

# logs_of NAME prints the end of $work/NAME.log, to explain a failure.
logs_of() {
	echo "--- last lines of $1.log:" >&2
	tail -n 20 "$work/$1.log" >&2 || true
}

# keygen makes the demo's signing key, $work/keys/demo.{key,pub}.
keygen() {
	mkdir -p "$work/keys"
	hoist release keygen --out "$work/keys/demo" >/dev/null
}

# publish TAG SRC... cuts a signed release in $work/releases.
publish() {
	HOIST="$bin/hoist" "$repo/deploy/publish-release.sh" --key "$work/keys/demo.key" \
		--repo "$work/releases" "$@"
}

# make_token writes a random token to $work/token (mode 0600) and sets $token.
make_token() {
	(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token")
	token=$(<"$work/token")
}

# set_password ROOT gives the manager of ROOT a random sign-in password,
# $password, as `hoist-manager passwd` does for an owner.
set_password() {
	password=$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$password" | hoist-manager passwd --root "$1" 2>/dev/null
}

# sign_in URL signs in with $password as the page does, then reads the
# history with the session cookie instead of the token.
sign_in() {
	say "Signing in as the owner: POST /v1/account/login, then GET /v1/system/history with its cookie"
	curl -fsS -c "$work/cookies" -o /dev/null -w 'login: HTTP %{http_code}\n' \
		-H 'Content-Type: application/json' --data "{\"password\":\"$password\"}" "$1/v1/account/login"
	curl -fsS -b "$work/cookies" "$1/v1/system/history"
	echo
}

# start_supervisor ROOT runs hoist-supervisor in the background.
start_supervisor() {
	hoist-supervisor --root "$1" >"$work/supervisor.log" 2>&1 &
	pids+=($!)
}

# wait_manager URL waits for the manager's /healthz; running CHECK (a
# command) must succeed meanwhile, else the demo stops with the logs.
wait_manager() {
	local url=$1 check=$2 i
	for ((i = 0; ; i++)); do
		curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && return
		if ((i >= 150)) || ! eval "$check"; then
			logs_of supervisor
			logs_of manager
			die "the manager did not answer on $url"
		fi
		sleep 0.2
	done
}

api() { curl -fsS -H "Authorization: Bearer $token" "$@"; }

# update_and_watch URL ROOT asks the manager for the update and follows it.
update_and_watch() {
	local url=$1 root=$2
	say "GET /v1/system/get-update"
	api "$url/v1/system/get-update"
	say "POST /v1/system/update"
	api -X POST "$url/v1/system/update"
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
}

# show_page URL prints where the web page is and, when interactive (or
# DEMO_EXIT=0), waits for Ctrl-C.
show_page() {
	say "Web page: $1/"
	if [[ -n ${password:-} ]]; then
		echo "Sign in with the password: $password"
	fi
	echo "API token (for scripts, or the page before a password is set): $token"
	local interactive=0
	[[ -t 0 ]] && interactive=1
	if [[ ${DEMO_EXIT:-$((1 - interactive))} == 1 ]]; then
		exit 0
	fi
	echo "Press Ctrl-C to stop the demo."
	# Returns on Ctrl-C (the trap ends the demo) or if the supervisor stops.
	wait "${pids[0]}" || true
	logs_of supervisor
	die "hoist-supervisor stopped"
}
