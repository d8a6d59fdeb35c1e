package engine

import "context"

// Plan exposes plan to the external tests, which share the tree snapshot
// helper.
var Plan = plan

// RunScript runs update script n of the release tree in dir ("" for the
// root) as an update to tg would, for the external tests.
func (e *Engine) RunScript(ctx context.Context, n int, dir, tg string) error {
	t := &txn{e: e} // outside a transaction: no run log
	return t.runScript(ctx, n, dir, nil, tg, "", "", func(int, string) {})
}
