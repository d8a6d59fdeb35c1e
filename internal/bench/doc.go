// Package bench holds the pure parts of `make bench` (cmd/hoistbench): the
// statistics, the results table, the goal checks, reading a process tree's
// memory, CPU time and wakeups from /proc, and recording the table in
// BENCHMARKS.md.
//
// Invariants:
//   - every figure is put next to a baseline measured in the same run, and
//     its ratio is hoist ÷ baseline, so a slow or loaded machine moves both;
//   - a missed goal is reported, never an error: benchmarks do not fail CI
//     on speed (and are not part of `make test`);
//   - nothing here starts processes or writes outside the file it is asked
//     to record into.
package bench
