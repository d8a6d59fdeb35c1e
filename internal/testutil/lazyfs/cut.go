package lazyfs

import (
	"bytes"
	"maps"
	"path"
	"slices"
)

// cutReport says what a power cut threw away.
type cutReport struct {
	droppedBytes    int64
	droppedEntries  int
	restoredEntries int
}

// cut replaces the volatile state by the durable state reachable from the
// root, as a reboot after a power loss would find it, and reports the
// difference. unsyncedAsEmpty empties files written since their last fsync.
//
// Directory entries are made durable one directory at a time, so a directory
// moved between two directories and fsynced in only one of them may be
// durably listed in both (or, after several moves, in a cycle). A directory
// has one place: it is kept under the first name found breadth-first, in
// name order, and dropped from the others.
func (m *model) cut(unsyncedAsEmpty bool) cutReport {
	before := m.paths()
	revived := map[*inode]*inode{}
	revive := func(old *inode) *inode {
		n := &inode{ino: old.ino, meta: old.durable.meta, target: old.target}
		switch {
		case n.isRegular() && !(unsyncedAsEmpty && old.dirty):
			n.data = bytes.Clone(old.durable.data)
		case n.isDir():
			n.entries = map[string]*inode{}
			n.nlink = 2
		}
		revived[old] = n
		return n
	}
	root := revive(m.root)
	for queue := []*inode{m.root}; len(queue) > 0; queue = queue[1:] {
		old := queue[0]
		dir := revived[old]
		for _, name := range slices.Sorted(maps.Keys(old.durable.entries)) {
			oldChild := old.durable.entries[name]
			child, seen := revived[oldChild]
			switch {
			case oldChild.isDir() && seen:
				continue
			case oldChild.isDir():
				child = revive(oldChild)
				child.parent = dir
				dir.nlink++
				queue = append(queue, oldChild)
			case !seen:
				child = revive(oldChild)
				fallthrough
			default:
				child.nlink++
			}
			dir.entries[name] = child
		}
	}

	m.used = 0
	for _, n := range revived {
		n.persist() // what the reboot found is on disk
		m.used += int64(len(n.data))
	}
	m.root = root

	var r cutReport
	after := m.paths()
	origin := make(map[*inode]*inode, len(revived))
	for old, n := range revived {
		origin[n] = old
	}
	for p, old := range before {
		if n, ok := after[p]; !ok || origin[n] != old {
			r.droppedEntries++
		}
	}
	for p, n := range after {
		if old, ok := before[p]; !ok || old != origin[n] {
			r.restoredEntries++
		}
	}
	lost := map[*inode]bool{}
	for _, old := range before {
		if n, ok := revived[old]; old.isRegular() && (!ok || !bytes.Equal(n.data, old.data)) {
			lost[old] = true
		}
	}
	for old := range lost {
		r.droppedBytes += int64(len(old.data))
	}
	return r
}

// paths maps the path of every name below the root to its inode.
func (m *model) paths() map[string]*inode {
	out := map[string]*inode{}
	var walk func(dir *inode, prefix string)
	walk = func(dir *inode, prefix string) {
		for name, child := range dir.entries {
			p := path.Join(prefix, name)
			out[p] = child
			if child.isDir() {
				walk(child, p)
			}
		}
	}
	walk(m.root, "")
	return out
}
