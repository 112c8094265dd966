package runner

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/openclaw-run/openclaw-run/internal/testutil"
	"github.com/openclaw-run/openclaw-run/profiles"
)

// A slow consumer slows the jail, not the runner's memory: 64 MiB of
// output through an emit that sleeps keeps the heap small, because the
// pipe is read only as fast as emit returns.
func TestSlowConsumerBoundsMemory(t *testing.T) {
	testutil.RequireRoot(t)
	ws := t.TempDir()
	os.Chown(ws, 4242, 4242)
	b, _ := profiles.Builtin()
	r, err := New(Options{Profile: b["coding"], Workspace: ws, Limits: profiles.Limits{MaxOutput: 128 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // and its call's teardown
	// What the process held before (other tests' garbage) is not this
	// stream's: the bound is on the growth.
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	var bytes int
	events := 0
	params, _ := json.Marshal(map[string]any{"command": "head -c 67108864 /dev/zero | tr '\\0' x"})
	err = r.Run(context.Background(), Call{Tool: "exec", Params: params}, func(e Event) error {
		bytes += len(e.Data)
		events++
		if events%64 == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base.HeapInuse && ms.HeapInuse-base.HeapInuse > peak {
				peak = ms.HeapInuse - base.HeapInuse
			}
			time.Sleep(time.Millisecond) // a slow client
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes != 64<<20 {
		t.Errorf("streamed %d bytes, want %d", bytes, 64<<20)
	}
	if peak > 48<<20 {
		t.Errorf("heap in use grew by %d MiB while streaming 64 MiB to a slow consumer", peak>>20)
	}
	t.Logf("64 MiB streamed in %d events, heap in use grew by at most %d MiB", events, peak>>20)
}
