package engine

// Plan exposes plan to the external tests, which share the tree snapshot
// helper.
var Plan = plan
