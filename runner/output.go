package runner

import (
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"sync"
)

// output carries a jail's stdout and stderr through pipes to the caller's
// writers, with one cap on their sum. Beyond the cap the streams are still
// read (so the command neither blocks nor dies of SIGPIPE) but dropped,
// and a marker says so. Memory is one buffer per stream, however much the
// jail prints; a slow writer slows the jail through the pipe.
type output struct {
	r, w [2]*os.File
	dst  [2]io.Writer
	wg   sync.WaitGroup

	mu        sync.Mutex
	left      int64
	total     int64
	truncated bool
	limit     int64
}

// copyBuf is read at once from a stream; the pipes are made as large (at
// most, best effort), so that a jail printing fast is read in few, large
// chunks: fewer events and writes per byte on every path out.
const copyBuf = 256 << 10

// copyBufs are the pumps' buffers, kept for the next call: two per call
// made a warm gateway collect its (small) heap every two or three calls.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

func newOutput(limit int64, stdout, stderr io.Writer) (*output, error) {
	o := &output{dst: [2]io.Writer{stdout, stderr}, left: limit, limit: limit}
	for i := range o.r {
		r, w, err := os.Pipe()
		if err != nil {
			o.closeAll()
			return nil, fmt.Errorf("output pipe: %w", err)
		}
		o.r[i], o.w[i] = r, w
		unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, copyBuf)
	}
	return o, nil
}

// use gives a pre-warmed jail's output its call: the call's writers and
// its cap (a call may narrow maxOutput).
func (o *output) use(limit int64, stdout, stderr io.Writer) {
	o.dst = [2]io.Writer{stdout, stderr}
	o.left, o.limit = limit, limit
}

// ptyOutput reads a pty's master instead of two pipes: a terminal has one
// stream, which goes to stdout. Reading the master fails with EIO once
// the last holder of the slave is gone: that is its end of file.
func ptyOutput(limit int64, master *os.File, stdout io.Writer) *output {
	o := &output{dst: [2]io.Writer{stdout, stdout}, left: limit, limit: limit}
	o.r[0] = master
	return o
}

// start begins copying; the jail has its own copies of the write ends.
func (o *output) start() {
	for i := range o.w {
		if o.w[i] != nil {
			o.w[i].Close()
			o.w[i] = nil
		}
	}
	for i := range o.r {
		if o.r[i] != nil {
			o.wg.Add(1)
			go o.pump(i)
		}
	}
}

func (o *output) pump(i int) {
	defer o.wg.Done()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := o.r[i].Read(buf)
		if n > 0 {
			o.deliver(i, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (o *output) deliver(i int, p []byte) {
	o.mu.Lock()
	o.total += int64(len(p))
	keep := int64(len(p))
	if keep > o.left {
		keep = o.left
	}
	o.left -= keep
	cut := keep < int64(len(p)) && !o.truncated
	if cut {
		o.truncated = true
	}
	o.mu.Unlock()
	if keep > 0 && o.dst[i] != nil {
		o.dst[i].Write(p[:keep])
	}
	if cut && o.dst[1] != nil {
		fmt.Fprintf(o.dst[1], "\n[openclaw-run: output truncated after %d bytes (maxOutput); the rest was discarded]\n", o.limit)
	}
}

// wait returns once both streams reached EOF: every process of the jail
// that held them is gone.
func (o *output) wait() (total int64, truncated bool) {
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.total, o.truncated
}

func (o *output) closeAll() {
	for i := range o.r {
		if o.r[i] != nil {
			o.r[i].Close()
		}
		if o.w[i] != nil {
			o.w[i].Close()
		}
	}
}
