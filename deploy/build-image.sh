#!/usr/bin/env bash
# build-image.sh — build the hoist-manager image from the static binary.
#
#   deploy/build-image.sh [TAG]        (default TAG: hoist-manager:latest)
#
# Uses $HOIST_BIN/hoist-manager (default: ./bin, from `make build`) and the
# host's CA roots, in a temporary build context laid out as the Dockerfile
# expects. FROM scratch: no registry is contacted.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOIST_BIN:-$repo/bin}
tag=${1:-hoist-manager:latest}
[[ -x $bin/hoist-manager ]] || {
	echo "build-image: $bin/hoist-manager missing: run make build first" >&2
	exit 1
}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/bin"
cp "$bin/hoist-manager" "$ctx/bin/"
for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
	if [[ -f $ca ]]; then
		cp "$ca" "$ctx/bin/ca-certificates.crt"
		break
	fi
done
cp "$repo/.dockerignore" "$ctx/"
if ! out=$(docker build -q -f "$repo/Dockerfile" -t "$tag" "$ctx" 2>&1); then
	echo "$out" >&2
	exit 1
fi
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
