// Package faults is hoist's adversarial and fault-injection suite: it turns
// the guarantees of CONTRACT §3, §5 and §6 into cases run against the real
// binaries on real app roots, and ends every case with the same two checks
// (site.settled in the tests):
//
//   - the live root is byte for byte exactly the old release or exactly the
//     new one (types, modes, owners, contents, symlink targets, hoist's kept
//     backups), and the status file says which;
//   - the protected data — data/, a tree of files, symlinks (relative,
//     absolute, dangling), odd modes (setuid, setgid, sticky, 0000), an
//     unprivileged owner, a fifo, hard links and a 20 MB file — is unchanged.
//
// # Cases
//
//   - power loss: `hoist apply` and `hoist rollback` on a lazyfs mount
//     (package testutil/lazyfs), the disk cut after every fsync in turn,
//     then `hoist recover` on what survived;
//   - kill -9 at every journal step (HOIST_TEST_CRASH_AT) followed by a power
//     cut, and at random moments (with a power cut, and on an ordinary disk
//     in the middle of a large install), then `hoist recover`;
//   - the supervisor killed while its trigger runs, then restarted;
//   - network faults between the engine and the release server: a
//     connection cut after N bytes (package faults/netfault), HTTP 500, a
//     server that stalls;
//   - a hostile manager: everything the unprivileged side can write
//     (statuses/, events/signals/) turned into links, fifos, floods and
//     oversized or malicious values;
//   - a full disk at each phase of an update, and out of inodes at each
//     point of an install;
//   - fuzz targets in the packages that parse untrusted bytes (fuzz_test.go
//     there; seeds run with every go test, see fuzz.sh for long runs).
//
// `go test` runs a few iterations of every loop; HOIST_TEST_LONG=1 runs many
// more. Cases that need FUSE, tmpfs mounts or root skip with a reason on
// machines without them (HOIST_REQUIRE_FUSE=1 makes a missing FUSE fail).
package faults
