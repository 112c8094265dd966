// Package staging owns the staging layer of a call's workspace writes: an
// overlay whose lower layer is the workspace and whose upper layer is a
// size-limited tmpfs private to the call (layer.go), the list of what a
// call changed (changes.go), and the workspace's store of calls that
// turns a call's upper layer into workspace changes as a unit, holds them
// for review, and undoes them (store.go).
//
// Why an overlay on a tmpfs, decided by measurement (BENCHMARKS.md):
//   - the tmpfs is the only kernel-enforced byte and inode limit that
//     works on any file system (ext4, xfs, NFS) without project quotas:
//     a write past it fails with ENOSPC inside the jail, and the host's
//     disk is never touched while the call runs;
//   - the commit copies only what the call changed (copy_file_range from
//     the tmpfs, then a rename into place), so its cost grows with the
//     changes, not with the workspace;
//   - a call that writes nothing costs one tmpfs and one overlay mount.
//
// The tmpfs's pages are memory, charged to the call's cgroup: a call's
// disk limit is bounded by its memory limit too (docs/staging.md).
//
// The layer is made by the runner as root in the initial user namespace,
// as detached mounts (fsopen/fsmount, Linux 5.2; overlay keeps its
// trusted.overlay.* xattrs, which tmpfs has always supported), and handed
// to the jail as the tree it attaches at /workspace, for either engine.
package staging

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Layer is one call's staging layer.
type Layer struct {
	// tmpfs is the detached tmpfs holding upper/ and work/; overlay is
	// the detached overlay mount, attached in the jail at /workspace.
	tmpfs, overlay int
	// Disk and Inodes are its limits.
	Disk, Inodes int64
	// root is upper/'s owner and mode as made: the workspace root's.
	root unix.Stat_t
}

// Overlay options: no directory redirects (a directory rename inside the
// overlay is EXDEV, which mv turns into a copy and a delete: the upper
// layer then spells out what changed), no index, no metacopy (a copied-up
// file is whole in the upper layer), no inode number extension.
var overlayOptions = [][2]string{{"redirect_dir", "off"}, {"index", "off"}, {"metacopy", "off"}, {"xino", "off"}}

// NewLayer makes the staging layer of a call over workspace: a tmpfs of
// disk bytes and inodes inodes (nr_inodes) with upper/ owned like the
// workspace, and an overlay mount (nosuid, nodev) on it. It needs
// CAP_SYS_ADMIN in the initial user namespace.
func NewLayer(workspace string, disk, inodes int64) (*Layer, error) {
	if disk <= 0 || inodes <= 0 {
		return nil, fmt.Errorf("staging: disk (%d) and inodes (%d) must be set", disk, inodes)
	}
	l := &Layer{tmpfs: -1, overlay: -1, Disk: disk, Inodes: inodes}
	fail := func(step string, err error) (*Layer, error) {
		l.Close()
		return nil, fmt.Errorf("staging: %s: %w", step, err)
	}
	ws, err := unix.Openat2(unix.AT_FDCWD, workspace, &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return fail("open the workspace "+workspace, err)
	}
	defer unix.Close(ws)
	var st unix.Stat_t
	if err := unix.Fstat(ws, &st); err != nil {
		return fail("stat the workspace", err)
	}
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fail("fsopen(tmpfs)", err)
	}
	defer unix.Close(fs)
	for _, kv := range [][2]string{{"size", strconv.FormatInt(disk, 10)}, {"nr_inodes", strconv.FormatInt(inodes, 10)}, {"mode", "0700"}} {
		if err := unix.FsconfigSetString(fs, kv[0], kv[1]); err != nil {
			return fail("tmpfs "+kv[0]+"="+kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return fail("tmpfs: create", err)
	}
	if l.tmpfs, err = unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC); err != nil {
		return fail("fsmount(tmpfs)", err)
	}
	for _, d := range []string{"upper", "work"} {
		if err := unix.Mkdirat(l.tmpfs, d, 0o700); err != nil {
			return fail("mkdir "+d, err)
		}
	}
	// The overlay's root is upper/'s inode: it must look like the
	// workspace's root (owner and mode).
	if err := unix.Fchownat(l.tmpfs, "upper", int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail("chown upper", err)
	}
	if err := unix.Fchmodat(l.tmpfs, "upper", st.Mode&0o7777&^(unix.S_ISUID|unix.S_ISGID), 0); err != nil {
		return fail("chmod upper", err)
	}
	if err := unix.Fstatat(l.tmpfs, "upper", &l.root, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail("stat upper", err)
	}
	attached := forceAttached || detachedRefused.Load()
	if !attached {
		l.overlay, err = overlayOver(ws, l.tmpfs)
		// A kernel that says 6.15 and still refuses detached layers
		// (see overlayAttached) takes the other way for this call.
		attached = errors.Is(err, unix.EINVAL)
	}
	if attached {
		l.overlay, err = overlayAttached(workspace, &st, l.tmpfs)
	}
	if err != nil {
		return fail("overlay", err)
	}
	return l, nil
}

// forceAttached makes NewLayer take the path older kernels need, so that
// the tests on a new kernel run it too.
var forceAttached = false

// detachedRefused says that this kernel refuses overlays on detached
// layers, from its release (before 6.15): such a kernel is not asked each
// time (each refusal puts a line in the kernel log, and a CLI process
// makes one layer).
var detachedRefused atomic.Bool

func init() {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return
	}
	var major, minor int
	if n, _ := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); n == 2 {
		detachedRefused.Store(major < 6 || (major == 6 && minor < 15))
	}
}

// overlayOver makes the detached overlay mount of the workspace (the
// directory ws) under tmpfs's upper/ and work/.
func overlayOver(ws, tmpfs int) (int, error) {
	ov, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen(overlay): %w", err)
	}
	defer unix.Close(ov)
	// Layers by descriptor path: no name is looked up twice, so no
	// symlink swapped in after the checks above can redirect them.
	params := [][2]string{
		{"lowerdir", fmt.Sprintf("/proc/self/fd/%d", ws)},
		{"upperdir", fmt.Sprintf("/proc/self/fd/%d/upper", tmpfs)},
		{"workdir", fmt.Sprintf("/proc/self/fd/%d/work", tmpfs)},
	}
	for _, kv := range append(params, overlayOptions...) {
		if err := unix.FsconfigSetString(ov, kv[0], kv[1]); err != nil {
			return -1, fmt.Errorf("%s=%s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(ov); err != nil {
		return -1, fmt.Errorf("create (overlayfs must be available: modprobe overlay): %w", err)
	}
	fd, err := unix.Fsmount(ov, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, fmt.Errorf("fsmount(overlay): %w", err)
	}
	return fd, nil
}

// overlayAttached makes the same overlay where the kernel wants its layers
// attached to the caller's mount namespace. overlayfs takes a private
// clone of each layer with clone_private_mount(), which before Linux 6.15
// fails with EINVAL unless the mount is in the caller's namespace
// (check_mnt): a detached tmpfs is not, and 6.1 (Debian 12) says EINVAL
// ("overlayfs: failed to clone upperpath" in the kernel log).
//
// So the overlay is made on the attach thread (attachThread), in a mount
// namespace of its own: the tmpfs is attached there over the temporary
// directory, the workspace is opened again in that namespace and checked
// to be the same directory, the overlay is made, and the tmpfs detached
// again (umount2 MNT_DETACH; it lives on through its descriptor).
func overlayAttached(workspace string, want *unix.Stat_t, tmpfs int) (int, error) {
	fd := -1
	err := onAttachThread(func() error {
		ws, err := unix.Openat2(unix.AT_FDCWD, workspace, &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
		if err != nil {
			return fmt.Errorf("open the workspace %s again: %w", workspace, err)
		}
		defer unix.Close(ws)
		var st unix.Stat_t
		if err := unix.Fstat(ws, &st); err != nil {
			return err
		}
		if st.Dev != want.Dev || st.Ino != want.Ino {
			return fmt.Errorf("the workspace %s is another directory in the staging thread's mount namespace (replaced, or mounted after the runner started)", workspace)
		}
		if err := unix.MoveMount(tmpfs, "", attach.point, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
			return fmt.Errorf("attach the tmpfs in the staging thread's namespace: %w", err)
		}
		fd, err = overlayOver(ws, tmpfs)
		// Detached by its own descriptor: exactly this mount, whatever
		// is mounted on the mount point meanwhile.
		if uerr := unix.Unmount(fmt.Sprintf("/proc/thread-self/fd/%d", tmpfs), unix.MNT_DETACH); uerr != nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			return fmt.Errorf("detach the tmpfs in the staging thread's namespace: %w", uerr)
		}
		return err
	})
	return fd, err
}

// The attach thread: one OS thread, for the life of the process, in a
// mount namespace of its own (unshare(2) CLONE_NEWNS in one thread of a
// process is allowed; its fs_struct is unshared with it), in which every
// mount is a slave of the host's (mount_namespaces(7)): mounts made on the
// host still appear in it, and nothing attached in it propagates back.
//
// It is never handed back to the Go scheduler and never exits: a thread
// that exits sends PR_SET_PDEATHSIG to every child it forked (prctl(2):
// the "parent" is the thread), and the goroutine's thread may have forked
// jails before it was locked; a thread per call that exited killed
// running jails (seen as SIGKILL and "no SCM_RIGHTS message").
var attach struct {
	once sync.Once
	reqs chan attachReq
	err  error
	// point is the mount point the tmpfs of a layer is attached on.
	point int
}

type attachReq struct {
	f    func() error
	done chan error
}

func onAttachThread(f func() error) error {
	attach.once.Do(func() {
		ready := make(chan error)
		attach.reqs = make(chan attachReq)
		var serve func()
		serve = func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				// The main thread's namespace is the one /proc/PID shows
				// (and nsenter -t PID enters): keep this one out of it,
				// and the main thread locked here, unused.
				go serve()
				select {}
			}
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				// Nothing changed: the thread may go back.
				runtime.UnlockOSThread()
				ready <- fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
				return
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
				ready <- fmt.Errorf("make the staging thread's mounts slaves: %w", err)
				select {} // in a namespace of its own for good: park the thread
			}
			// The mount point: a tmpfs of the thread's own over /tmp's
			// place, held by descriptor. Nothing of the host's (no
			// $TMPDIR, no symlink) is looked up per call.
			fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
			if err == nil {
				err = unix.FsconfigSetString(fs, "size", "4k")
				if err == nil {
					err = unix.FsconfigCreate(fs)
				}
				if err == nil {
					attach.point, err = unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
				}
				unix.Close(fs)
			}
			if err == nil {
				err = unix.MoveMount(attach.point, "", unix.AT_FDCWD, "/", unix.MOVE_MOUNT_F_EMPTY_PATH)
			}
			if err != nil {
				ready <- fmt.Errorf("the staging thread's mount point: %w", err)
				select {}
			}
			ready <- nil
			for r := range attach.reqs {
				r.done <- r.f()
			}
		}
		go serve()
		attach.err = <-ready
	})
	if attach.err != nil {
		return attach.err
	}
	done := make(chan error, 1)
	attach.reqs <- attachReq{f, done}
	return <-done
}

// Tree is the overlay as a detached mount, for the jail to attach at
// /workspace (move_mount). The layer keeps owning it.
func (l *Layer) Tree() int { return l.overlay }

// Usage is how much of its limits the call's changes take, and whether
// either is exhausted (a write failed with ENOSPC in the jail).
func (l *Layer) Usage() (bytes, inodes int64, diskFull, inodesFull bool, err error) {
	var s unix.Statfs_t
	if err := unix.Fstatfs(l.tmpfs, &s); err != nil {
		return 0, 0, false, false, err
	}
	bs := int64(s.Bsize)
	bytes = (int64(s.Blocks) - int64(s.Bfree)) * bs
	inodes = int64(s.Files) - int64(s.Ffree)
	return bytes, inodes, int64(s.Bavail)*bs < 4096, s.Ffree == 0, nil
}

// Untouched reports that the call changed nothing: its upper directory
// has no entry (every change, a deletion too, leaves one there) and its
// owner and mode are as made (a chmod or chown of /workspace itself).
// Most calls write nothing; they skip the store's lock and files.
func (l *Layer) Untouched() bool {
	var st unix.Stat_t
	if unix.Fstatat(l.tmpfs, "upper", &st, unix.AT_SYMLINK_NOFOLLOW) != nil ||
		st.Mode != l.root.Mode || st.Uid != l.root.Uid || st.Gid != l.root.Gid {
		return false
	}
	fd, err := l.upper()
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return false
		}
		if n == 0 {
			return true
		}
		if _, count, _ := unix.ParseDirent(buf[:n], -1, nil); count > 0 {
			return false // ParseDirent skips "." and ".."
		}
	}
}

// upper opens the upper directory.
func (l *Layer) upper() (int, error) {
	return unix.Openat(l.tmpfs, "upper", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// Close releases the layer: its memory goes once the jail that attached
// it is gone too.
func (l *Layer) Close() {
	for _, fd := range []*int{&l.overlay, &l.tmpfs} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// Available reports whether this process can make staging layers: root
// in the initial user namespace (fsopen of tmpfs and overlay as detached
// mounts). An unprivileged runner cannot; docs/staging.md says what that
// means.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("staging layers are made by a privileged runner (root); this one is uid " + strconv.Itoa(os.Geteuid()))
	}
	return nil
}
