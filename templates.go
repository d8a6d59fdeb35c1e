// Package hoist holds the app-root templates: the repository is laid out like
// an app root, and `hoist init` copies these directories into a new one.
package hoist

import "embed"

// Templates holds events/, triggers/ and statuses/ as shipped in this repository.
//
//go:embed all:events all:triggers all:statuses
var Templates embed.FS
