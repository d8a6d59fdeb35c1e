// Package notify tells the node's owner what happened to their node, through
// shoutrrr (ntfy, Gotify, Discord, Telegram, Matrix, SMTP, webhooks, ...):
// an update available, started, succeeded, failed, rolled back, the
// automatic check failing for over a day, and a test message.
//
// Design:
//   - The manager reports what it observes (Observe: the status file and the
//     installed version; Checked: the automatic check's result). The
//     Notifier derives events from the change since the last observation,
//     which it keeps in the outbox, so a manager that restarts and reads the
//     same status again derives nothing new. Every event also has a key
//     ("failed:v1.1.0:<run start>", "available:1.2.0"); a key already seen
//     is never added again.
//   - Durable outbox statuses/notify-outbox.json (manager-owned, replaced
//     atomically): an event, with one pending delivery per target it is
//     for, is written there BEFORE anything is sent. A delivery that
//     succeeded is removed from the file before the next send, so it is
//     never sent again; one that failed is retried with exponential backoff
//     until it succeeds or its event is a day old, then dropped and logged.
//     A manager killed in between delivers what is pending after restart.
//     The one window left is a kill after a target accepted a message and
//     before the file says so: that message may come twice, never zero times.
//   - Targets are named in the outbox, the API and logs by TargetID, a hash
//     of their URL, and by Redact (scheme and host): notification URLs hold
//     tokens and secret topics.
//   - Every part of the file is capped (events, targets, texts, keys), so
//     it stays far below MaxOutboxSize; a file that does not parse is set
//     aside and replaced by a fresh one, and the manager keeps running.
package notify
