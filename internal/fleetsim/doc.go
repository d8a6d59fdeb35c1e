// Package fleetsim simulates a fleet of nodes checking one release
// repository (issue 16 §5), for `make bench`.
//
// Each node is a goroutine with its own random node id running the real
// code: checkloop's schedule (random first delay, jitter, backoff),
// discovery's Finder and Source (httpcache, the static source's
// timestamp probe, the git source's ref advertisement) and rollout's Hold.
// Only time is compressed: a Clock runs Factor times faster than the wall
// clock (1,000: one simulated hour in 3.6 s) and is what the check loop
// sleeps on and what a rollout is judged at.
//
// Everything is counted at the server, as an operator would see it: a real
// nginx serving a static directory writes its access log with the time, the
// bytes received and sent (headers included) of every request; a git
// http-backend behind net/http/cgi counts the bytes of its connections and
// the time of each request. Times are turned back into simulated ones, so
// rates are per simulated node-hour and per simulated second.
//
// A node "downloads" a release by fetching its manifest target, one
// request the server can count; the engine's real download is measured
// elsewhere in the bench.
package fleetsim
