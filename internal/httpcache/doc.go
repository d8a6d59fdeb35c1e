// Package httpcache makes polite HTTP GETs for release checks.
//
// A Client remembers, per URL, the ETag and Last-Modified of the last good
// answer with its body, and sends them back as If-None-Match and
// If-Modified-Since. A 304 Not Modified answer costs the server a few hundred
// bytes and means "use the body you have". Bodies are capped before they are
// buffered, so a hostile server cannot make a node hold more than the
// caller's limit.
//
// What is remembered lives in a Store: Memory for a process that checks
// repeatedly (the manager), Dir for one-shot runs (`hoist check`) that keep
// it on disk between runs. A Store is a cache: losing it costs one full
// request, never a wrong answer, because a 304 can only follow validators
// that were sent together with the body they describe.
//
// RetryAfter reads a 429/503 answer's Retry-After (seconds or an HTTP date),
// capped at MaxRetryAfter; a *StatusError carries it to the check loop, which
// finds it anywhere in an error chain with ServerWait.
package httpcache
