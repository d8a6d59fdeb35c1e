#!/usr/bin/env bash
# build-image.sh — build the hoist-manager image from the static binary.
#
#   deploy/build-image.sh [--arch ARCH] [TAG]
#
# Without --arch: the host's image from $HOIST_BIN/hoist-manager (default
# ./bin, from `make build`), tagged TAG (default hoist-manager:latest).
# With --arch amd64|arm64|armv7|armv6: that platform's image from
# $HOIST_BIN/linux-ARCH/hoist-manager (`make build ARCH=ARCH`), tagged TAG
# (default hoist-manager:ARCH). The Dockerfile has no RUN step, so no
# emulation is needed: the image is only labelled with the platform, and
# checked to be.
#
# The host's CA roots go in too, in a temporary build context laid out as
# the Dockerfile expects. FROM scratch: no registry is contacted.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOIST_BIN:-$repo/bin}
usage="usage: build-image.sh [--arch amd64|arm64|armv7|armv6] [TAG]"

arch=
while (($#)); do
	case $1 in
	--arch)
		(($# >= 2)) || { echo "$usage" >&2; exit 2; }
		arch=$2
		shift 2
		;;
	--arch=*) arch=${1#--arch=}; shift ;;
	-*) echo "$usage" >&2; exit 2 ;;
	*) break ;;
	esac
done
(($# <= 1)) || { echo "$usage" >&2; exit 2; }

platform=() want=
case $arch in
'') ;;
amd64) want=amd64 ;;
arm64) want=arm64 ;;
armv7) want=arm/v7 ;;
armv6) want=arm/v6 ;;
*) echo "build-image: unknown --arch $arch; $usage" >&2; exit 2 ;;
esac
if [[ -n $arch ]]; then
	bin=$bin/linux-$arch
	platform=(--platform "linux/$want")
fi
tag=${1:-hoist-manager:${arch:-latest}}
[[ -x $bin/hoist-manager ]] || {
	echo "build-image: $bin/hoist-manager missing: run make build${arch:+ ARCH=$arch} first" >&2
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
if ! out=$(docker build -q "${platform[@]}" -f "$repo/Dockerfile" -t "$tag" "$ctx" 2>&1); then
	echo "$out" >&2
	exit 1
fi
got=$(docker image inspect -f '{{.Architecture}}{{with .Variant}}/{{.}}{{end}}' "$tag")
if [[ -n $want && ${got%/v8} != "$want" ]]; then
	echo "build-image: $tag is for $got, not $want (an old Docker that ignores --platform?)" >&2
	exit 1
fi
echo "built $tag for linux/$got ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
