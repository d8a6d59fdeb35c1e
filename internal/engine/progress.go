package engine

// band names a stretch of the progress bar that one phase of a transaction
// moves within, so that progress never goes backwards: a later phase's
// band starts where an earlier one's ends.
type band int

// The bands, in the order an apply crosses them. A rollback crosses start,
// backup and install, then spends script-01 through script-03 on its one
// script. An undo keeps the bar where the failure left it.
const (
	bandQueued   band = iota // the manager's request; the engine never writes it
	bandStart                // lock taken, checks passed, begin journaled
	bandDownload             // git's "Receiving objects"
	bandVerify               // signature and tree
	bandScript00             // 00-run.sh, from the staging clone
	bandBackup               // planning and saving the undo area
	bandInstall              // files put in place, counted
	bandScript01
	bandScript02
	bandScript03
)

// span is a stretch [lo, hi) of the 0–100 bar.
type span struct{ lo, hi int }

// bands is the progress table: each band's stretch of the bar. Together
// they cover [0, 100) without overlapping; 100 means success, written only
// by the final status.
var bands = [...]span{
	bandQueued:   {0, 1},
	bandStart:    {1, 2},
	bandDownload: {2, 30},
	bandVerify:   {30, 32},
	bandScript00: {32, 40},
	bandBackup:   {40, 44},
	bandInstall:  {44, 60},
	bandScript01: {60, 72},
	bandScript02: {72, 84},
	bandScript03: {84, 100},
}

// span returns the band's stretch of the bar.
func (b band) span() span { return bands[b] }

// through returns the stretch from the start of b to the end of last.
func (b band) through(last band) span { return span{bands[b].lo, bands[last].hi} }

// at maps a phase's own progress n (0–100) into the span, staying below hi.
func (s span) at(n int) int {
	return s.lo + (s.hi-1-s.lo)*min(max(n, 0), 100)/100
}
