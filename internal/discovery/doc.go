// Package discovery finds the release to install next (CONTRACT §7, §8).
//
// A release repository is read through a Source: a git repository (go-git,
// nothing cloned to disk) or an http(s) URL template with "{ref}" that
// returns a ref's info.json. A Finder asks the Source for the default
// branch's info.json and walks Umbrel's "requires" chain down to a release
// the installed version may update to:
//
//	latest := info.json at the default branch
//	while the installed version does not satisfy the step's requires:
//	    step to the lowest release that the constraint allows, that is newer
//	    than the installed version and older than the step
//	stop when compatible (answer that step) or when no such release exists
//	(answer "up-to-date", as Umbrel does)
//
// Channels choose latest (Finder.NextOn). A beta release is a pre-release
// version (v1.3.0-beta.1) or, in a static repository, one whose metadata
// says "channel": "beta". Stable: latest is the default branch's release,
// or the newest tagged stable one when the default branch holds a beta;
// steps are never pre-releases. Beta: a pre-release tagged newer than the
// default branch's release is latest. An installed beta meets requires as
// its release does (1.3.0-beta.1 as 1.3.0).
//
// Every step goes strictly down, so the walk ends; it is also capped at
// maxSteps fetches. Everything read from the repository is untrusted: sizes
// are capped, versions must be strict semver, and the info.json read at tag
// vX.Y.Z must say version X.Y.Z.
//
// Failures to reach or read the repository are *FetchError values whose
// Reason is safe to show to API clients (no URLs, which may hold
// credentials); the wrapped error keeps the detail for the log.
//
// The manager and `hoist update`/`hoist check` share this package, so both
// answer the same question the same way.
package discovery
