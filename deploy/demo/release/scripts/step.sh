# step TEXT... reports the steps of one update script as hoist progress
# lines, pausing a little after each so the demo's progress bar moves.
# shellcheck shell=bash
step() {
	local n=0 total=$# text
	for text in "$@"; do
		n=$((n + 1))
		echo "::progress $((100 * (n - 1) / total)) $text"
		sleep "${DEMO_STEP_PAUSE:-0.4}"
	done
	echo "::progress 100 $text: done"
}
