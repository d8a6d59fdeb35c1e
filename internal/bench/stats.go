package bench

import (
	"cmp"
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of xs by the
// nearest-rank method: the smallest sample with at least p% of the samples
// at or below it. It returns the zero value for no samples and does not
// reorder xs.
func Percentile[T cmp.Ordered](xs []T, p float64) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	// The epsilon keeps exact ranks exact despite float rounding: p99 of
	// 200 samples is the 198th, not the 199th.
	rank := int(math.Ceil(p*float64(len(s))/100 - 1e-9))
	return s[min(max(rank, 1), len(s))-1]
}

// Median is Percentile(xs, 50).
func Median[T cmp.Ordered](xs []T) T { return Percentile(xs, 50) }
