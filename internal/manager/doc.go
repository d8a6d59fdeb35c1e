// Package manager is hoist-manager: the HTTP API and web page through which
// a user sees the installed release and asks for an update (CONTRACT §7).
//
// The manager is unprivileged and sees only statuses/, events/signals/ and
// info.json of the app root. Its only power is to write the status file and
// a signal file (package request); everything privileged happens in the
// supervisor and the engine on the host.
//
// Invariants:
//   - One route table: every handler returns an error and wrap is the one
//     place that turns errors into {"error": "..."} answers; internal detail
//     goes to the log only. Panics are recovered there too.
//   - Every route but update-status, healthz, the page's files and the
//     account routes needs "Authorization: Bearer <token>", compared in
//     constant time, or the owner's session cookie (account.go). A request
//     without the token passes http.CrossOriginProtection first, so no
//     other site can use the cookie or sign the browser in.
//   - The owner's settings (statuses/settings.json, settings.go) are read
//     on each use: auto_update, window and skip shape the automatic check
//     only; channel shapes what get-update offers.
//   - Request bodies are capped; the release repository is read with
//     timeouts and cached (package discovery), so a slow repository gives a
//     502 with the reason, never a hang.
//   - The status is watched once (fsnotify plus polling) and fanned out to
//     every events stream; a slow stream loses intermediate states, never
//     the order or the latest one.
//   - update-status answers from the watcher's copy of the status (encoded
//     once per change, errors included), so it lags the file no more than
//     the event streams do. The manager's own writes (update requests)
//     refresh the copy before they answer, so a client sees its own request
//     at once. Without fsnotify, update-status reads the file on each
//     request, as it cannot rely on the poll.
//   - Notifications (package notify) are derived from what the manager
//     already observes: the watcher's status changes, through one hub
//     subscription taken before any client's, and the automatic check's
//     result. Their outbox is statuses/notify-outbox.json.
//
// Decisions beyond the contract:
//   - GET /v1/system/events needs the token like the other API routes. The
//     page reads the stream with fetch() and a header rather than
//     EventSource, which cannot send one; a token in the URL would end up in
//     proxy logs. The page polls update-status when streaming fails.
//   - POST /v1/system/update takes an optional {"version":"vX.Y.Z"}; without
//     it the target is get-update's answer. A given version must be newer
//     than the installed one, exist, and have its requires met (else 400).
//   - POST /v1/system/rollback is refused with 409 while an update is in
//     progress, as the engine's lock would refuse it.
//   - GET /v1/system/info answers 404 when no release is installed yet.
//   - The automatic check does not re-request a release whose automatic
//     update failed, until the manager restarts or a user asks.
//   - A phased rollout (discovery.Hold) shapes get-update and the automatic
//     check only: POST /v1/system/update without a version installs what
//     the rollout holds back (the page's "Install now"), as a manual update
//     is always allowed. GET /v1/system/info adds node_id only when
//     statuses/node-id holds a valid one.
package manager
