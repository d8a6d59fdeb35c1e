package lazyfs

import (
	"bytes"
	"maps"
	"syscall"
	"time"
)

// meta is the part of an inode that stat shows, apart from size and nlink.
type meta struct {
	mode                uint32 // file type and permission bits
	uid, gid            uint32
	rdev                uint32
	atime, mtime, ctime time.Time
}

// state is what a power cut leaves of an inode.
type state struct {
	meta
	data    []byte            // regular files
	entries map[string]*inode // directories
}

// inode is one file, directory, symlink or special file. The fields up to
// durable are the volatile view that the mount shows; durable is what
// survives a cut. A symlink's target never changes, so it needs no durable
// copy.
type inode struct {
	ino uint64 // st_ino; kept across cuts, as on a disk
	meta
	nlink   uint32
	data    []byte
	target  string
	entries map[string]*inode
	parent  *inode // directories only: the one directory holding it
	dirty   bool   // content changed since the last fsync

	durable state

	nodeid  uint64 // kernel's handle for it in this epoch; 0 if the kernel holds none
	lookups uint64 // references the kernel holds to nodeid
	opens   int    // open file handles
}

func (n *inode) isDir() bool     { return n.mode&syscall.S_IFMT == syscall.S_IFDIR }
func (n *inode) isRegular() bool { return n.mode&syscall.S_IFMT == syscall.S_IFREG }

// persist makes the inode's current content and metadata durable: what
// fsync does for a file (content) or a directory (its entries).
func (n *inode) persist() {
	n.durable.meta = n.meta
	if n.isRegular() {
		n.durable.data = bytes.Clone(n.data)
		n.dirty = false
	}
	if n.isDir() {
		n.durable.entries = maps.Clone(n.entries)
	}
}

// persistAll makes everything reachable from the root durable: a global
// journal commit.
func (m *model) persistAll() {
	var walk func(n *inode)
	walk = func(n *inode) {
		if n.isRegular() && !n.dirty {
			n.durable.meta = n.meta // the content is durable already
		} else {
			n.persist()
		}
		for _, child := range n.entries {
			walk(child)
		}
	}
	walk(m.root)
}

// model is the in-memory file system. It does no locking; the server holds
// its mutex around every call.
type model struct {
	root    *inode
	size    int64 // capacity in bytes (statfs, ENOSPC)
	used    int64 // bytes of content held by live regular files
	nextIno uint64
	now     func() time.Time
}

func newModel(size int64) *model {
	m := &model{size: size, now: time.Now}
	m.root = m.newInode(syscall.S_IFDIR|0o755, 0, 0)
	return m
}

// newInode returns a fresh inode whose durable state is its initial one, as
// a journaling file system writes a new inode together with its directory
// entry: if the entry survives a cut, the inode does, empty.
func (m *model) newInode(mode, uid, gid uint32) *inode {
	m.nextIno++
	t := m.now()
	n := &inode{ino: m.nextIno, meta: meta{mode: mode, uid: uid, gid: gid, atime: t, mtime: t, ctime: t}}
	if n.isDir() {
		n.entries = map[string]*inode{}
		n.nlink = 2
	}
	n.persist()
	return n
}

// add enters child under name in dir, which must not hold name yet.
func (m *model) add(dir *inode, name string, child *inode) {
	dir.entries[name] = child
	if child.isDir() {
		child.parent = dir
		dir.nlink++
	} else {
		child.nlink++
	}
	m.touch(dir)
}

// remove takes name out of dir and drops the link it held.
func (m *model) remove(dir *inode, name string) {
	child := dir.entries[name]
	delete(dir.entries, name)
	if child.isDir() {
		dir.nlink--
		child.nlink = 0
	} else {
		child.nlink--
	}
	child.ctime = m.now()
	m.touch(dir)
	m.release(child)
}

// release frees the content of an inode nothing refers to any more.
func (m *model) release(n *inode) {
	if n.nlink == 0 && n.opens == 0 && n.isRegular() {
		m.used -= int64(len(n.data))
		n.data = nil
	}
}

// touch records a change of n's content.
func (m *model) touch(n *inode) {
	t := m.now()
	n.mtime, n.ctime = t, t
}

// resize sets the length of a regular file's content, failing with ENOSPC
// if the file system would hold more than its size.
func (m *model) resize(n *inode, size int64) syscall.Errno {
	grow := size - int64(len(n.data))
	if grow > 0 && m.used+grow > m.size {
		return syscall.ENOSPC
	}
	m.used += grow
	if grow > 0 {
		n.data = append(n.data, make([]byte, grow)...)
	} else {
		n.data = n.data[:size]
	}
	n.dirty = true
	m.touch(n)
	return 0
}

// write stores data at off in the regular file n.
func (m *model) write(n *inode, off int64, data []byte) syscall.Errno {
	if end := off + int64(len(data)); end > int64(len(n.data)) {
		if errno := m.resize(n, end); errno != 0 {
			return errno
		}
	}
	copy(n.data[off:], data)
	n.dirty = true
	m.touch(n)
	return 0
}

// rename moves the entry oldName of od to newName in nd, replacing what is
// there, or swapping the two entries if exchange is set. The caller has
// checked that both exist as required.
func (m *model) rename(od *inode, oldName string, nd *inode, newName string, exchange bool) syscall.Errno {
	src, dst := od.entries[oldName], nd.entries[newName]
	if src == dst {
		return 0 // POSIX: two links to the same file, nothing to do
	}
	if src.isDir() && isAncestor(src, nd) || exchange && dst.isDir() && isAncestor(dst, od) {
		return syscall.EINVAL
	}
	if exchange {
		od.entries[oldName], nd.entries[newName] = dst, src
		m.moved(dst, nd, od)
	} else {
		if dst != nil {
			if errno := replaceable(src, dst); errno != 0 {
				return errno
			}
			m.remove(nd, newName)
		}
		delete(od.entries, oldName)
		nd.entries[newName] = src
	}
	m.moved(src, od, nd)
	m.touch(od)
	m.touch(nd)
	return 0
}

// moved fixes parent links after n went from directory from to directory to.
func (m *model) moved(n, from, to *inode) {
	n.ctime = m.now()
	if n.isDir() && from != to {
		from.nlink--
		to.nlink++
		n.parent = to
	}
}

// replaceable says whether rename may put src over dst, as rename(2) does.
func replaceable(src, dst *inode) syscall.Errno {
	switch {
	case src.isDir() && !dst.isDir():
		return syscall.ENOTDIR
	case !src.isDir() && dst.isDir():
		return syscall.EISDIR
	case dst.isDir() && len(dst.entries) > 0:
		return syscall.ENOTEMPTY
	}
	return 0
}

// isAncestor reports whether dir a is d or one of d's ancestors.
func isAncestor(a, d *inode) bool {
	for x := d; x != nil; x = x.parent {
		if x == a {
			return true
		}
	}
	return false
}
