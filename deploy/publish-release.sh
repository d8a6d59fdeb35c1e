#!/usr/bin/env bash
# publish-release.sh — cut a signed hoist release from plain directories.
#
#   publish-release.sh --key KEY [--key KEY2...] [--app ID] --repo DIR vX.Y.Z SRC...
#
# Replaces the work tree of the git repository DIR (created when missing) by
# the union of the SRC directories (a later one wins on the same path), has
# `hoist release sign` write hoist-release.json and its signature (one per
# --key), commits and tags vX.Y.Z. The tree must hold info.json whose version
# is the tag without "v", and an "app" field unless --app is given. Uses
# $HOIST (default: hoist on PATH) and the git CLI.
set -euo pipefail

die() {
	echo "publish-release: $*" >&2
	exit 2
}

sign=() repo=""
while (($#)); do
	case $1 in
	--key | --app) sign+=("$1" "${2:?}"); shift 2 ;;
	--repo) repo=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
(($# >= 2)) || die "usage: publish-release.sh --key KEY [--key KEY2...] [--app ID] --repo DIR vX.Y.Z SRC..."
[[ " ${sign[*]-} " == *" --key "* && -n $repo ]] || die "--key and --repo are required"
tag=$1
shift
[[ $tag =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "tag $tag is not vX.Y.Z"

git() { command git -C "$repo" -c user.name=hoist -c user.email=hoist@localhost "$@"; }

mkdir -p "$repo"
[[ -d $repo/.git ]] || git init -q -b main
git rm -rqf --ignore-unmatch . >/dev/null
for src in "$@"; do
	[[ -d $src ]] || die "$src is not a directory"
	cp -R "$src"/. "$repo"/
done
version=$(sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' "$repo/info.json" 2>/dev/null || true)
[[ $version == "${tag#v}" ]] || die "info.json says version \"$version\", the tag is $tag"

"${HOIST:-hoist}" release sign "${sign[@]}" "$repo"
git add -A
git commit -qm "release $tag"
git tag "$tag"
echo "published $tag in $repo"
