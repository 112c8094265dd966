package runner

import (
	"runtime"
	"sync"
	"time"

	"github.com/openclaw-run/openclaw-run/jail"
	"github.com/openclaw-run/openclaw-run/plan"
)

// Pre-warmed jails. A gateway runner keeps up to Options.Prewarm jails of
// its exec tier built ahead: after each call it builds the next one, so
// that the next call of the session skips the jail setup. Each is built
// from a plan made at that moment, is used by one call and then destroyed
// like any other, and serves a call only if the call's own plan, made when
// the call arrives, has the same jail (plan.SameJail): a deniedPaths glob
// that matches a file created since, a changed limit or another tier send
// the call to a cold jail and the warm one away. An idle one is destroyed
// after warmIdle. warmSlots bounds how many wait on the whole host.
var (
	warmSlots = make(chan struct{}, 2*runtime.NumCPU()+2)
	warmIdle  = time.Minute
)

type warmPool struct {
	mu     sync.Mutex
	jails  []*jailed
	closed bool
	// building counts jails being built for the pool: calls ending together
	// must not each build one only to throw all but one away.
	building int
}

// takeWarm returns a waiting jail for p, or nil: none is ready, or the
// call needs what a pre-warmed jail cannot give (a pty, a command too
// large for its block), or the waiting jail's plan differs from p's.
func (r *Runner) takeWarm(p *plan.Plan) *jailed {
	if r.opts.Prewarm == 0 || !jail.Fits(&p.Command) {
		return nil
	}
	r.warm.mu.Lock()
	var stale []*jailed
	var found *jailed
	for len(r.warm.jails) > 0 && found == nil {
		j := r.warm.jails[0]
		r.warm.jails = r.warm.jails[1:]
		<-warmSlots
		j.expiry.Stop() // taken: nothing keeps it for its idle time
		if time.Since(j.built) < warmIdle && plan.SameJail(j.plan, p) {
			found = j
		} else {
			stale = append(stale, j)
		}
	}
	r.warm.mu.Unlock()
	for _, j := range stale {
		go j.close()
	}
	return found
}

// prewarm builds one waiting jail, unless the pool is full. Its plan is an
// exec call's, made now.
func (r *Runner) prewarm() {
	if r.opts.Prewarm == 0 || r.opts.Profile.ExecTier == "" {
		return
	}
	r.warm.mu.Lock()
	if r.warm.closed || len(r.warm.jails)+r.warm.building >= r.opts.Prewarm {
		r.warm.mu.Unlock()
		return
	}
	select {
	case warmSlots <- struct{}{}:
	default:
		r.warm.mu.Unlock()
		return // enough jails wait on this host
	}
	r.warm.building++
	r.warm.mu.Unlock()
	var j *jailed
	p, err := r.plan("", &request{tool: "exec", warm: true}, &Call{})
	if err == nil {
		j, err = r.build(p, nil, newTrace(time.Now()))
	}
	r.warm.mu.Lock()
	r.warm.building--
	if err != nil {
		r.warm.mu.Unlock()
		<-warmSlots // the call that needs it will build one cold, and say why if it fails
		return
	}
	if r.warm.closed {
		r.warm.mu.Unlock()
		<-warmSlots
		j.close()
		return
	}
	j.expiry = time.AfterFunc(warmIdle, func() { r.expire(j) })
	r.warm.jails = append(r.warm.jails, j)
	r.warm.mu.Unlock()
}

// expire destroys j if it is still waiting.
func (r *Runner) expire(j *jailed) {
	r.warm.mu.Lock()
	for i, w := range r.warm.jails {
		if w == j {
			r.warm.jails = append(r.warm.jails[:i], r.warm.jails[i+1:]...)
			r.warm.mu.Unlock()
			<-warmSlots
			j.close()
			return
		}
	}
	r.warm.mu.Unlock()
}

// Prewarm builds the runner's waiting jails now (a gateway does it when a
// session starts).
func (r *Runner) Prewarm() { r.prewarm() }

// ExpireWarm destroys the runner's waiting jails now (the admin reset)
// and returns how many; the runner builds new ones after its next call.
func (r *Runner) ExpireWarm() int {
	r.warm.mu.Lock()
	jails := r.warm.jails
	r.warm.jails = nil
	r.warm.mu.Unlock()
	for _, j := range jails {
		<-warmSlots
		j.expiry.Stop()
		j.close()
	}
	return len(jails)
}

// Close destroys the runner's waiting jails and waits for the teardown
// of finished calls; later calls start cold.
func (r *Runner) Close() {
	defer func() {
		r.teardowns.Wait()
		r.storeMu.Lock()
		r.closed = true
		r.closeIdleStore()
		r.storeMu.Unlock()
	}()
	r.warm.mu.Lock()
	r.warm.closed = true
	jails := r.warm.jails
	r.warm.jails = nil
	r.warm.mu.Unlock()
	for _, j := range jails {
		<-warmSlots
		j.close()
	}
}
