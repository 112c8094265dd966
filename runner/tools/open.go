package tools

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Opening files without blocking.
//
// A workspace is shared with exec calls, so anything may sit at a path a
// file tool is given: a FIFO, a unix socket, a device node reached through
// a link (/dev/zero, /dev/tty). open(2) of a FIFO for reading blocks until
// a writer appears, and read(2) of /dev/zero never ends: either held a
// call slot until the call's timeout (issue 20, item 14). So every open
// here is O_NONBLOCK (fifo(7): a read-only open of a FIFO then returns at
// once; a device cannot block the open) and O_NOCTTY (a terminal never
// becomes the helper's controlling terminal), and fstat(2) on the open
// descriptor decides: anything but a regular file (or a directory where
// one is expected) is refused before a byte is read. Deciding on the
// descriptor, not on a previous stat of the path, leaves no window for a
// swap between the check and the use. Writes never open an existing
// target at all: they write a new temporary file and rename it over the
// target (replace), after refusing a target that is not a regular file.

const openFlags = unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC

// openRegular opens a regular file for reading. A directory, FIFO,
// socket or device is refused at once with invalid_params naming its type.
func openRegular(name, shown string) (*os.File, fs.FileInfo, error) {
	f, st, err := openNonblock(name, shown, unix.O_RDONLY)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(shown, st.Mode())
	}
	return f, st, nil
}

// openDir opens a directory for listing (O_DIRECTORY: anything else fails
// with ENOTDIR instead of being opened).
func openDir(name, shown string) (*os.File, error) {
	f, _, err := openNonblock(name, shown, unix.O_RDONLY|unix.O_DIRECTORY)
	return f, err
}

func openNonblock(name, shown string, flags int) (*os.File, fs.FileInfo, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(name, flags|openFlags, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			// open(2) of a unix socket, or of a device with nothing
			// behind it (/dev/tty without a terminal): name what it is.
			if st, serr := os.Stat(name); serr == nil {
				return nil, nil, notRegular(shown, st.Mode())
			}
			return nil, nil, invalid("%s is a socket or device with nothing behind it: file tools read and write regular files only", shown)
		}
		return nil, nil, fsError(&fs.PathError{Op: "open", Path: name, Err: err}, shown)
	}
	// O_NONBLOCK means nothing for regular files and directories; clear
	// it so that the os package treats the descriptor as the ordinary
	// blocking file it is.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, nil, fsError(err, shown)
	}
	f := os.NewFile(uintptr(fd), name)
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fsError(err, shown)
	}
	return f, st, nil
}

// typeName names a file type for errors.
func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a unix socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}

// notRegular refuses a path that is not a regular file.
func notRegular(shown string, m fs.FileMode) error {
	if m.IsDir() {
		return invalid("%s is a directory (use ls)", shown)
	}
	return invalid("%s is %s: file tools read and write regular files only", shown, typeName(m))
}

// checkReplaceable refuses to replace what is not a regular file: a write
// to a FIFO's path replaces nothing. A missing path is fine (it is
// created); a symlink is replaced by the new file, as before, and the
// mode of a regular file it points to is kept. It returns the mode for
// the new file.
func checkReplaceable(name, shown string) (os.FileMode, bool, error) {
	st, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0o644, false, nil
	case err != nil:
		return 0, false, fsError(err, shown)
	case st.Mode()&fs.ModeSymlink != 0:
		if t, err := os.Stat(name); err == nil && t.Mode().IsRegular() {
			return t.Mode().Perm(), true, nil
		}
		return 0o644, true, nil
	case !st.Mode().IsRegular():
		return 0, true, notRegular(shown, st.Mode())
	}
	return st.Mode().Perm(), true, nil
}

// errExists is the error of a path that is already there.
func errExists(shown, what string) error {
	return &Error{Code: CodeExists, Message: fmt.Sprintf("%s: %s", shown, what)}
}
