#!/bin/sh
# fuzz.sh runs every fuzz target of the module (every func FuzzX in a
# _test.go file) for FUZZTIME each (default 5m), one after the other:
#
#   internal/faults/fuzz.sh             # all targets, 5 minutes each
#   FUZZTIME=30s internal/faults/fuzz.sh FuzzCheck FuzzReplay
#
# `go test` (make test) runs only the seeds: the f.Add calls and the
# corpora in each package's testdata/fuzz/. A failing input is written
# there by go test; commit it with the fix, as a regression seed.
set -eu
cd "$(dirname "$0")/../.."
fuzztime=${FUZZTIME:-5m}
grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(sed -nE 's/^func (Fuzz[A-Za-z0-9_]+)\(.*/\1/p' "$file"); do
		if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$target"; then
			continue
		fi
		echo "== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "$pkg"
	done
done
