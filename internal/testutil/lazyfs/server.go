//go:build !arm

package lazyfs

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// change says how an operation changes the file system, for the counters
// and the crash trigger.
type change int

const (
	noChange change = iota
	modify          // volatile state only
	fileSync        // fsync or fdatasync of a regular file
	dirSync         // fsync of a directory
)

const (
	maxName   = 255
	blockSize = 4096
	maxFiles  = 1 << 20 // what statfs reports; nothing enforces it
)

// handle is an open file or directory.
type handle struct {
	n   *inode
	dir []fuse.DirEntry // directories: the listing readdir serves
}

// server answers the kernel's FUSE requests from the model. Every request
// runs under mu and nothing under mu calls back into the kernel, so requests
// cannot deadlock each other or a power cut.
type server struct {
	fuse.RawFileSystem // ENOSYS for what is not implemented below

	opts Options

	mu       sync.Mutex // guards the fields below
	m        *model
	nodes    map[uint64]*inode // kernel nodeid → inode, this epoch
	nextNode uint64            // never reused: the kernel must not mix epochs
	handles  map[uint64]*handle
	nextFh   uint64
	crashed  bool  // every request fails with EIO until the next cut
	left     int64 // changes until the crash; 0 = not armed
	counted  Step  // what left counts
	stats    Stats
}

// newServer serves a new file system; o.Size must be set.
func newServer(o Options) *server {
	s := &server{
		RawFileSystem: fuse.NewDefaultRawFileSystem(),
		opts:          o,
		m:             newModel(o.Size),
		nextNode:      fuse.FUSE_ROOT_ID,
	}
	s.reset()
	return s
}

func (s *server) String() string { return "lazyfs" }

// reset forgets the kernel's nodeids and handles, keeping the root.
func (s *server) reset() {
	s.nodes = map[uint64]*inode{fuse.FUSE_ROOT_ID: s.m.root}
	s.m.root.nodeid = fuse.FUSE_ROOT_ID
	s.handles = map[uint64]*handle{}
}

// serve runs op under the mutex and counts the change it made if it succeeded.
func (s *server) serve(c change, op func() syscall.Errno) fuse.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return fuse.EIO
	}
	errno := op()
	if errno == 0 {
		s.count(c)
	}
	return fuse.Status(errno)
}

func (s *server) count(c change) {
	switch c {
	case noChange:
		return
	case fileSync:
		s.stats.Fsyncs++
	case dirSync:
		s.stats.DirFsyncs++
	}
	s.stats.Changes++
	if s.left > 0 && (s.counted == AnyChange || c != modify) {
		s.left--
		s.crashed = s.left == 0
	}
}

// crashAfter arms the trigger; see FS.CrashAfter.
func (s *server) crashAfter(n int64, st Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.left, s.counted = n, st
	s.crashed = n == 0
}

// errCrashed refuses a sync of a crashed disk: the cut must come first.
var errCrashed = errors.New("the disk has crashed (CrashAfter): cut the power first")

// syncAll makes everything durable; see FS.Sync.
func (s *server) syncAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return errCrashed
	}
	s.m.persistAll()
	return nil
}

// powerCut rebuilds the model from its durable state and returns the
// nodeids the kernel may still hold for the old one.
func (s *server) powerCut() (stale []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m.cut(s.opts.UnsyncedAsEmpty)
	stale = slices.Collect(maps.Keys(s.nodes))
	s.reset()
	s.crashed, s.left = false, 0
	s.stats.Cuts++
	s.stats.DroppedBytes = r.droppedBytes
	s.stats.DroppedEntries = r.droppedEntries
	s.stats.RestoredEntries = r.restoredEntries
	return stale
}

func (s *server) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.UsedBytes = s.m.used
	st.Crashed = s.crashed
	return st
}

func (s *server) node(id uint64) (*inode, syscall.Errno) {
	if n := s.nodes[id]; n != nil {
		return n, 0
	}
	return nil, syscall.EIO // a nodeid from before a cut
}

func (s *server) dir(id uint64) (*inode, syscall.Errno) {
	n, errno := s.node(id)
	if errno == 0 && !n.isDir() {
		errno = syscall.ENOTDIR
	}
	return n, errno
}

func (s *server) handle(fh uint64) (*handle, syscall.Errno) {
	if h := s.handles[fh]; h != nil {
		return h, 0
	}
	return nil, syscall.EIO // opened before a cut
}

// entry answers a request that hands the kernel a reference to n.
func (s *server) entry(n *inode, out *fuse.EntryOut) {
	if n.nodeid == 0 {
		s.nextNode++
		n.nodeid = s.nextNode
		s.nodes[n.nodeid] = n
	}
	n.lookups++
	out.NodeId = n.nodeid
	// Zero timeouts: the kernel asks again for every path walk and stat,
	// so nothing it cached survives a cut.
	attr(n, &out.Attr)
}

func (s *server) open(n *inode) uint64 {
	s.nextFh++
	s.handles[s.nextFh] = &handle{n: n}
	n.opens++
	return s.nextFh
}

func attr(n *inode, a *fuse.Attr) {
	size := uint64(len(n.data))
	switch n.mode & syscall.S_IFMT {
	case syscall.S_IFLNK:
		size = uint64(len(n.target))
	case syscall.S_IFDIR:
		size = blockSize
	}
	*a = fuse.Attr{
		Ino: n.ino, Size: size, Blocks: (size + 511) / 512, Mode: n.mode, Nlink: n.nlink,
		Owner: fuse.Owner{Uid: n.uid, Gid: n.gid}, Rdev: n.rdev, Blksize: blockSize,
	}
	a.SetTimes(&n.atime, &n.mtime, &n.ctime)
}

// create makes a new inode called name in the directory h.NodeId, owned by
// the caller (the group of a setgid directory, as on Linux).
func (s *server) create(h *fuse.InHeader, name string, mode uint32) (*inode, syscall.Errno) {
	dir, errno := s.dir(h.NodeId)
	switch {
	case errno != 0:
		return nil, errno
	case len(name) > maxName:
		return nil, syscall.ENAMETOOLONG
	case dir.entries[name] != nil:
		return nil, syscall.EEXIST
	}
	gid := h.Gid
	if dir.mode&syscall.S_ISGID != 0 {
		gid = dir.gid
		if mode&syscall.S_IFMT == syscall.S_IFDIR {
			mode |= syscall.S_ISGID
		}
	}
	n := s.m.newInode(mode, h.Uid, gid)
	s.m.add(dir, name, n)
	return n, 0
}

func (s *server) Lookup(_ <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	return s.serve(noChange, func() syscall.Errno {
		dir, errno := s.dir(h.NodeId)
		if errno != 0 {
			return errno
		}
		n := dir.entries[name]
		if n == nil {
			return syscall.ENOENT
		}
		s.entry(n, out)
		return 0
	})
}

func (s *server) Forget(nodeid, nlookup uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[nodeid]
	if n == nil || nodeid == fuse.FUSE_ROOT_ID {
		return
	}
	n.lookups -= min(nlookup, n.lookups)
	if n.lookups == 0 {
		delete(s.nodes, nodeid)
		n.nodeid = 0
	}
}

func (s *server) GetAttr(_ <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	return s.serve(noChange, func() syscall.Errno {
		n, errno := s.node(in.NodeId)
		if errno == 0 {
			attr(n, &out.Attr)
		}
		return errno
	})
}

func (s *server) SetAttr(_ <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		n, errno := s.node(in.NodeId)
		if errno != 0 {
			return errno
		}
		if size, ok := in.GetSize(); ok {
			if !n.isRegular() {
				return syscall.EINVAL
			}
			if errno := s.m.resize(n, int64(size)); errno != 0 {
				return errno
			}
		}
		if mode, ok := in.GetMode(); ok {
			n.mode = n.mode&syscall.S_IFMT | mode
		}
		if uid, ok := in.GetUID(); ok {
			n.uid = uid
		}
		if gid, ok := in.GetGID(); ok {
			n.gid = gid
		}
		if in.Valid&fuse.FATTR_KILL_SUIDGID != 0 {
			n.mode &^= syscall.S_ISUID | syscall.S_ISGID
		}
		if t, ok := in.GetATime(); ok {
			n.atime = t
		}
		if t, ok := in.GetMTime(); ok {
			n.mtime = t
		}
		n.ctime = s.m.now()
		attr(n, &out.Attr)
		return 0
	})
}

func (s *server) Mknod(_ <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		n, errno := s.create(&in.InHeader, name, in.Mode)
		if errno != 0 {
			return errno
		}
		n.rdev = in.Rdev
		n.persist()
		s.entry(n, out)
		return 0
	})
}

func (s *server) Mkdir(_ <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		n, errno := s.create(&in.InHeader, name, syscall.S_IFDIR|in.Mode&0o7777)
		if errno == 0 {
			s.entry(n, out)
		}
		return errno
	})
}

func (s *server) Symlink(_ <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		n, errno := s.create(h, name, syscall.S_IFLNK|0o777)
		if errno == 0 {
			n.target = target
			s.entry(n, out)
		}
		return errno
	})
}

func (s *server) Readlink(_ <-chan struct{}, h *fuse.InHeader) (target []byte, st fuse.Status) {
	st = s.serve(noChange, func() syscall.Errno {
		n, errno := s.node(h.NodeId)
		if errno != 0 {
			return errno
		}
		if n.mode&syscall.S_IFMT != syscall.S_IFLNK {
			return syscall.EINVAL
		}
		target = []byte(n.target)
		return 0
	})
	return target, st
}

func (s *server) Link(_ <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		dir, errno := s.dir(in.NodeId)
		if errno != 0 {
			return errno
		}
		n, errno := s.node(in.Oldnodeid)
		switch {
		case errno != 0:
			return errno
		case n.isDir():
			return syscall.EPERM
		case n.nlink == 0:
			return syscall.ENOENT
		case len(name) > maxName:
			return syscall.ENAMETOOLONG
		case dir.entries[name] != nil:
			return syscall.EEXIST
		}
		s.m.add(dir, name, n)
		n.ctime = s.m.now()
		s.entry(n, out)
		return 0
	})
}

// removeEntry serves unlink (wantDir false) and rmdir (wantDir true).
func (s *server) removeEntry(h *fuse.InHeader, name string, wantDir bool) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		dir, errno := s.dir(h.NodeId)
		if errno != 0 {
			return errno
		}
		n := dir.entries[name]
		switch {
		case n == nil:
			return syscall.ENOENT
		case wantDir && !n.isDir():
			return syscall.ENOTDIR
		case !wantDir && n.isDir():
			return syscall.EISDIR
		case wantDir && len(n.entries) > 0:
			return syscall.ENOTEMPTY
		}
		s.m.remove(dir, name)
		return 0
	})
}

func (s *server) Unlink(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return s.removeEntry(h, name, false)
}

func (s *server) Rmdir(_ <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	return s.removeEntry(h, name, true)
}

func (s *server) Rename(_ <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	const noReplace, exchange = 1, 2 // RENAME_NOREPLACE, RENAME_EXCHANGE
	return s.serve(modify, func() syscall.Errno {
		od, errno := s.dir(in.NodeId)
		if errno != 0 {
			return errno
		}
		nd, errno := s.dir(in.Newdir)
		if errno != 0 {
			return errno
		}
		exists := nd.entries[newName] != nil
		switch {
		case in.Flags&^(noReplace|exchange) != 0 || in.Flags == noReplace|exchange:
			return syscall.EINVAL
		case od.entries[oldName] == nil:
			return syscall.ENOENT
		case len(newName) > maxName:
			return syscall.ENAMETOOLONG
		case in.Flags&noReplace != 0 && exists:
			return syscall.EEXIST
		case in.Flags&exchange != 0 && !exists:
			return syscall.ENOENT
		}
		return s.m.rename(od, oldName, nd, newName, in.Flags&exchange != 0)
	})
}

func (s *server) Create(_ <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	return s.serve(modify, func() syscall.Errno {
		dir, errno := s.dir(in.NodeId)
		if errno != 0 {
			return errno
		}
		// The kernel looks the name up first, so an existing one is a race
		// with another creator: behave as open(2) would.
		n := dir.entries[name]
		switch {
		case n != nil && in.Flags&syscall.O_EXCL != 0:
			return syscall.EEXIST
		case n != nil && n.isDir():
			return syscall.EISDIR
		case n != nil && in.Flags&syscall.O_TRUNC != 0:
			errno = s.m.resize(n, 0)
		case n == nil:
			n, errno = s.create(&in.InHeader, name, syscall.S_IFREG|in.Mode&0o7777)
		}
		if errno != 0 {
			return errno
		}
		s.entry(n, &out.EntryOut)
		out.Fh = s.open(n)
		return 0
	})
}

func (s *server) Open(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	c := noChange
	if in.Flags&syscall.O_TRUNC != 0 {
		c = modify
	}
	return s.serve(c, func() syscall.Errno {
		n, errno := s.node(in.NodeId)
		switch {
		case errno != 0:
			return errno
		case n.isDir():
			return syscall.EISDIR
		case in.Flags&syscall.O_TRUNC != 0 && n.isRegular():
			if errno := s.m.resize(n, 0); errno != 0 {
				return errno
			}
		}
		// No FOPEN_KEEP_CACHE: the kernel drops its page cache at open.
		out.Fh = s.open(n)
		return 0
	})
}

func (s *server) Read(_ <-chan struct{}, in *fuse.ReadIn, _ []byte) (res fuse.ReadResult, st fuse.Status) {
	st = s.serve(noChange, func() syscall.Errno {
		h, errno := s.handle(in.Fh)
		if errno != 0 {
			return errno
		}
		data := h.n.data
		off := min(int64(in.Offset), int64(len(data)))
		end := min(off+int64(in.Size), int64(len(data)))
		// A copy: the reply is sent after the mutex is released.
		res = fuse.ReadResultData(slices.Clone(data[off:end]))
		return 0
	})
	return res, st
}

func (s *server) Write(_ <-chan struct{}, in *fuse.WriteIn, data []byte) (written uint32, st fuse.Status) {
	st = s.serve(modify, func() syscall.Errno {
		h, errno := s.handle(in.Fh)
		if errno != 0 {
			return errno
		}
		if errno := s.m.write(h.n, int64(in.Offset), data); errno != 0 {
			return errno
		}
		if in.WriteFlags&fuse.WRITE_KILL_SUIDGID != 0 {
			h.n.mode &^= syscall.S_ISUID | syscall.S_ISGID
		}
		written = uint32(len(data))
		return 0
	})
	return written, st
}

func (s *server) Flush(_ <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	return s.serve(noChange, func() syscall.Errno {
		_, errno := s.handle(in.Fh)
		return errno
	})
}

func (s *server) Release(_ <-chan struct{}, in *fuse.ReleaseIn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handles[in.Fh]
	if h == nil {
		return
	}
	delete(s.handles, in.Fh)
	h.n.opens--
	s.m.release(h.n)
}

// syncHandle serves fsync and fdatasync (both persist content and
// metadata) of files and directories.
func (s *server) syncHandle(fh uint64, c change) fuse.Status {
	return s.serve(c, func() syscall.Errno {
		h, errno := s.handle(fh)
		switch {
		case errno != 0:
			return errno
		case s.opts.GlobalCommit:
			s.m.persistAll()
		default:
			h.n.persist()
		}
		return 0
	})
}

func (s *server) Fsync(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return s.syncHandle(in.Fh, fileSync)
}

func (s *server) FsyncDir(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return s.syncHandle(in.Fh, dirSync)
}

func (s *server) Fallocate(_ <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	return s.serve(modify, func() syscall.Errno {
		h, errno := s.handle(in.Fh)
		switch {
		case errno != 0:
			return errno
		case in.Mode&^keepSize != 0:
			return syscall.EOPNOTSUPP
		case in.Mode == 0 && int64(in.Offset+in.Length) > int64(len(h.n.data)):
			return s.m.resize(h.n, int64(in.Offset+in.Length))
		}
		return 0
	})
}

func (s *server) OpenDir(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return s.serve(noChange, func() syscall.Errno {
		dir, errno := s.dir(in.NodeId)
		if errno == 0 {
			out.Fh = s.open(dir)
		}
		return errno
	})
}

// ReadDir serves a listing taken when the stream is read from its start, so
// offsets stay valid while the directory changes.
func (s *server) ReadDir(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return s.serve(noChange, func() syscall.Errno {
		h, errno := s.handle(in.Fh)
		if errno != 0 {
			return errno
		}
		if in.Offset == 0 {
			h.dir = listing(h.n)
		}
		for i := in.Offset; i < uint64(len(h.dir)); i++ {
			e := h.dir[i]
			e.Off = i + 1
			if !out.AddDirEntry(e) {
				break
			}
		}
		return 0
	})
}

func listing(dir *inode) []fuse.DirEntry {
	parent := dir
	if dir.parent != nil {
		parent = dir.parent
	}
	out := []fuse.DirEntry{
		{Name: ".", Ino: dir.ino, Mode: syscall.S_IFDIR},
		{Name: "..", Ino: parent.ino, Mode: syscall.S_IFDIR},
	}
	for _, name := range slices.Sorted(maps.Keys(dir.entries)) {
		n := dir.entries[name]
		out = append(out, fuse.DirEntry{Name: name, Ino: n.ino, Mode: n.mode})
	}
	return out
}

func (s *server) ReleaseDir(in *fuse.ReleaseIn) {
	s.Release(nil, in)
}

func (s *server) StatFs(_ <-chan struct{}, _ *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	return s.serve(noChange, func() syscall.Errno {
		free := uint64(max(s.m.size-s.m.used, 0)) / blockSize
		*out = fuse.StatfsOut{
			Blocks: uint64(s.m.size) / blockSize, Bfree: free, Bavail: free,
			Files: maxFiles, Ffree: maxFiles, Bsize: blockSize, Frsize: blockSize, NameLen: maxName,
		}
		return 0
	})
}
