#!/usr/bin/env bash
# Health check: the installed app must be the release that was asked for.
set -euo pipefail
. "$(dirname "$0")/../step.sh"
step "Waiting for the services to answer"
grep -q "\"version\": *\"${1#v}\"" info.json || {
	echo "info.json is not version ${1#v}" >&2
	exit 1
}
