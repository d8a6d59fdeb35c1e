package objcache

// WithoutTmpfile makes c create its copies under temp names of partial/,
// as on a filesystem without O_TMPFILE.
func WithoutTmpfile(c *Cache) { c.noTmpfile.Store(true) }
