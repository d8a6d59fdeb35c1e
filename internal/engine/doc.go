// Package engine is hoist's update engine: `hoist apply`, `recover`,
// `rollback` and `verify` (CONTRACT §5). It turns one app root from one
// release into another as a transaction: whatever happens — a failing
// script, a full disk, kill -9, a power cut — the root ends up holding
// exactly the old release or exactly the new one, and the status file says
// which and why.
//
// # The transaction
//
// Every change to the live root is one transaction with three durable
// pieces, all under .hoist/:
//
//   - the journal (.hoist/journal, package journal): one record per step,
//     appended and fdatasync'ed before the step starts or after it ends, as
//     its name says;
//   - the undo area (.hoist/undo, package backup): the state, before the
//     transaction, of every path it changes — content (a hard link to the
//     old inode), mode, symlink target, or "absent" for paths it creates.
//     Its index is written last and its sha256 journaled, so an undo area
//     is either known complete or known partial;
//   - the kept backups (.hoist/backups/<version>): an apply's undo area,
//     moved there on commit, is what `hoist rollback` restores.
//
// Installing, restoring a backup and undoing are all the same operation
// (package install): put a list of paths into wanted states, each path in
// one atomic step (rename of a complete temp name, unlink, mkdir, rmdir),
// skipping paths already as wanted. That makes every one of them
// idempotent, so recovery is simply "do it again".
//
// Cleanup never deletes in place: the used backup, the undo area and
// staging clones are each renamed into the trash (.hoist/trash), one rename
// however many files they hold, so they vanish from their places
// atomically. The final status is written next, so that it does not wait
// for thousands of unlinks; then a syncfs makes the renames durable (a
// power cut must not bring back an undo area the journal calls finished),
// the trash is emptied and done journaled. A crash before done leaves the
// journal open, and recover settles the transaction again; every recover
// also empties the trash. Where a rename cannot work (another filesystem, no room for the
// trash directory on a full disk), the tree is removed in place.
//
// # Steps
//
// An apply journals, in order (Steps lists them all, for tests):
//
//	begin        {op, from, to, staging}   before anything
//	fetched      the staging clone .app-vX.Y.Z exists
//	verified     signature, tree, version, protected paths, requires: all checked
//	script-00    before 00-run.sh (from the staging clone)   script-00-done after it
//	backup       before saving the paths to change in the undo area
//	backed-up    {index sha256} the undo area is complete
//	install      before the first change to the live root
//	installed    every path of the new release is in place and synced
//	script-01 … script-03-done   around 01, 02, 03 (from the root)
//	commit       every step succeeded
//	done         status and reports written, trash emptied: the journal is closed
//
// and on a failure: undo {reason} → restored → restart (before the
// restored release's 01-run.sh, when scripts may have stopped its
// services) → done. A rollback journals begin, backup … installed,
// script-01, script-01-done, commit, done, restoring the newest kept
// backup instead of a clone.
//
// Each record costs an fdatasync, so records that follow each other with
// nothing done between share one: begin is written with the journal
// itself (journal.Create), and a record saying that work is done
// (backed-up, installed, script-NN-done) is held back until the next
// step's record, which goes to disk before that step changes anything
// (txn.logSoon). A crash in between loses the held record, leaving the
// journal as a crash just before it would have, a prefix recovery
// handles; nothing was done that the held record announced. The final
// step (script-03-done, script-01-done for a rollback) is never held: it
// alone proves the transaction complete should the commit record fail.
//
// recover (and every apply or rollback, first thing under the lock) reads
// the journal. A transaction that ends in done is closed. One whose undo
// began continues the undo. One that journaled commit, or its final step
// (script-03-done; script-01-done for a rollback), provably completed every
// step and is finished: commit and cleanup again, all idempotent. Anything
// else is undone: restore the undo area (if install was journaled), re-run
// the old 01-run.sh (if script-00 or script-01 was journaled), report. A
// torn last record is cut off; undoing is correct from any prefix of the
// journal, so a damaged record costs at most an update that has to be
// tried again. Without a readable journal, an undo area with an index is
// restored, one without is removed. The restore begins a new journal with
// op "restore", which means "the root may have changed and scripts may
// have run": a crash during it leaves a journal that restores again.
//
// These rules are one pure function, replay (state.go): it turns the
// journal's records into a state whose phase, the furthest step reached
// in the order above, answers complete, needsRestore and needsRestart. The
// running transaction keeps the same state up to date as it journals, so
// what it does and what a recover after a crash would do cannot drift.
//
// The test-only hook HOIST_TEST_CRASH_AT=<step> (Options.CrashAt) makes the
// engine SIGKILL itself right after journaling that step; recover runs with
// the same hook, so crashes during recovery are tested too.
//
// # Where things are
//
//   - apply.go: Apply and the apply sequence, one step per line in the
//     order above (rollback.go: the same for Rollback);
//   - state.go: the recovery decision — phase, replay and the rules;
//     recover.go runs it, finish.go commits or undoes;
//   - progress.go: the progress table, one named band per phase;
//     status.go writes the status file;
//   - txn.go: the journal's records and the open transaction;
//   - script.go: running an update script and its log; report.go: the
//     failure report; history.go: the run history (package history),
//     one entry per transaction, whose id the begin record carries so that
//     recover finishes a crashed run's entry, written before the final
//     status;
//   - request.go: what to install and refusing a request; plan.go: what
//     an update changes; store.go: downloads; cache.go: the object cache;
//     verify.go: hoist verify.
//
// # Hard links
//
// The staging clone, the undo area and the live root are one filesystem
// (all inside the root), so installing a file is link(staging) + rename and
// backing one up is link(live): no data is copied and neither needs disk
// space, which is why preflight only has to find room for the download
// (estimated at twice the live release's size, plus a margin). This relies
// on one rule: the engine never writes a live file in place, only replaces
// names, so an inode shared by the live root and a backup never changes.
// Content is hashed before it is put in place, so a shared inode changed by
// someone else is an error, not a silent corruption. Where a link is
// impossible (another filesystem), the file is copied. The one exception:
// a staged file linked from the object cache is copied into the live root
// (install.Options.CopyShared), so that no live file is a cache object.
//
// # Decisions
//
//   - Releases are downloaded through the object store .hoist/objects
//     (fetch.Options.Store), so an update downloads only what changed, and
//     staged from the object cache .hoist/cache (cache.go), so it writes
//     only what changed. Both are caches: a release that fails to verify
//     removes them (the fault may be a torn object), and after a
//     successful apply they are pruned to the live release, once the
//     status says success.
//   - A bad --to is a usage error (exit 2) and touches nothing. A bad
//     updateTo in the status file — not a tag, or a status file that is a
//     symlink or hard link — is a rejected request (exit 4), reported in
//     the status file (the manager waits for an answer); it never names
//     anything on disk.
//   - Refusals before begin (version not newer, not enough disk, bad
//     request) write the status only if it says installing or is unusable:
//     someone waits for the answer. A mistyped command line changes
//     nothing.
//   - A release that lists a protected path (config protect, .hoist/,
//     events/, statuses/, .app-*) is rejected (exit 4) rather than
//     installed partly: it is not what was signed.
//   - So is one with a symlink leading into those or triggers/, or with its
//     update scripts behind a symlink; a script runs only as the regular
//     file its tree's manifest lists, checked just before it runs
//     (scriptguard.go, proc.Open), else the update fails and is undone.
//   - A first install (no info.json) has no downgrade or requires check;
//     its undo area records every path as absent, so failing removes all
//     it wrote.
//   - 00-run.sh failing also re-runs the old 01-run.sh: a pre-update check
//     may have stopped services.
//   - After a script failure the verified staging clone is kept for the
//     next attempt (which verifies it again before reusing it); after any
//     other failure, and after every success, all clones are removed.
//   - Kept backups are a stack ordered by Index.Seq. Rollback restores the
//     newest, only if it was taken when the live release was installed
//     (else it would make a mix), and consumes it; the live release's files
//     are saved only in the rollback's own undo area.
//   - After a rollback, the files of the restored release that differ
//     from its manifest are logged, after the status says success and
//     done is journaled, since this only logs. The restored paths are
//     compared by the kept backup's index, whose content Restore just
//     checked; of the files the update never touched, only those whose
//     inode changed since the update compared them are hashed.
//   - verify --fix restores from the staging clone of the live release or a
//     kept backup with the same content, and else downloads and verifies
//     the live release; it copies (never links) so kept backups stay
//     independent. It checks the live manifest's signature first.
//
// # Limits
//
// Restored files keep their owner only when linked (the normal case).
// Paths below a mount point inside the root are outside the guarantee
// (syncfs covers the root's filesystem). Scripts are trusted to do what
// the release's maintainers meant; the engine only bounds them in time.
package engine
