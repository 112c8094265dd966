package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the state several gateways share (the hardening guide's
// section 5.4): sessions (Store), auth failure counters (Lockout), the
// owners of background processes and the members that own them
// (Cluster), and each gateway's audit chain head. Every operation has a
// deadline; an error is returned, never papered over, so that a call that
// needs shared state fails closed while Redis is unreachable.
//
// Keys, below KeyPrefix: session:ID (hash), sessions (zset by last use),
// proc:ID (JSON), procs:SESSION and procs:running (sets), member:ID (JSON,
// with a TTL the member renews), authfail:ADDR and lock:ADDR (counters
// with TTLs), audit:ID (hash).
type Redis struct {
	c        *redis.Client
	prefix   string
	ttl      time.Duration
	max      int
	window   time.Duration
	lock     time.Duration
	self     Member
	log      *slog.Logger
	opTimout time.Duration
}

// RedisOptions configure the shared store.
type RedisOptions struct {
	URL, KeyPrefix, Password string
	TLS                      bool
	// OwnerTTL: how long a member's heartbeat lives (default 15s).
	OwnerTTL time.Duration
	// Auth lockout: Failures within Window lock an address for Lock.
	Failures       int
	Window, Lockup time.Duration
	Logger         *slog.Logger
}

// Member is one gateway of the cluster.
type Member struct {
	ID      string    `json:"id"`
	Addr    string    `json:"addr"` // host:port where the others reach it
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// ProcInfo is what the cluster knows of a background process.
type ProcInfo struct {
	ID       string    `json:"processId"`
	Session  string    `json:"session"`
	Owner    string    `json:"owner"`
	Command  string    `json:"command"`
	Status   string    `json:"status"` // running, exited, failed, killed, ended
	ExitCode int       `json:"exitCode,omitempty"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
}

// ErrNoProc is returned by Proc for an unknown process.
var ErrNoProc = errors.New("no such process")

// OpenRedis connects (lazily: an unreachable Redis shows in Ping and in
// the first call, not here).
func OpenRedis(o RedisOptions) (*Redis, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("sessions.store.url: %w", err)
	}
	if o.Password != "" {
		opt.Password = o.Password
	}
	if o.TLS && opt.TLSConfig == nil {
		host, _, _ := net.SplitHostPort(opt.Addr)
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	// Fail fast: a call waits at most this long for Redis before it is
	// refused.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	opt.MaxRetries = 1
	if o.KeyPrefix == "" {
		o.KeyPrefix = "openclaw:"
	}
	if o.OwnerTTL <= 0 {
		o.OwnerTTL = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Redis{c: redis.NewClient(opt), prefix: o.KeyPrefix, ttl: o.OwnerTTL, max: o.Failures, window: o.Window,
		lock: o.Lockup, log: o.Logger, opTimout: 3 * time.Second}, nil
}

func (r *Redis) key(parts ...string) string {
	k := r.prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

func (r *Redis) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.opTimout)
}

func storeErr(err error) error {
	return fmt.Errorf("shared session store (redis): %w", err)
}

// Ping checks that Redis answers (readyz).
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return storeErr(err)
	}
	return nil
}

// --- Store

func (r *Redis) Get(id string) (*Session, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	m, err := r.c.HGetAll(ctx, r.key("session", id)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(m) == 0 {
		return nil, ErrNoSession
	}
	return sessionOf(m), nil
}

func sessionOf(m map[string]string) *Session {
	s := &Session{ID: m["id"], UserID: m["userId"], Channel: m["channel"], Workspace: m["workspace"], Client: m["client"]}
	s.Calls, _ = strconv.ParseInt(m["calls"], 10, 64)
	s.Created, _ = time.Parse(time.RFC3339Nano, m["created"])
	s.LastUsed, _ = time.Parse(time.RFC3339Nano, m["lastUsed"])
	return s
}

// Touch creates the session if needed and counts one call, atomically
// (MULTI/EXEC), whichever gateway serves it.
func (r *Redis) Touch(in Session) (*Session, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	now := time.Now().UTC()
	k := r.key("session", in.ID)
	var all *redis.MapStringStringCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, k, "id", in.ID)
		p.HSetNX(ctx, k, "created", now.Format(time.RFC3339Nano))
		p.HSetNX(ctx, k, "userId", in.UserID)
		p.HSetNX(ctx, k, "channel", in.Channel)
		p.HSetNX(ctx, k, "workspace", in.Workspace)
		p.HSetNX(ctx, k, "client", in.Client)
		p.HIncrBy(ctx, k, "calls", 1)
		p.HSet(ctx, k, "lastUsed", now.Format(time.RFC3339Nano))
		p.ZAdd(ctx, r.key("sessions"), redis.Z{Score: float64(now.UnixNano()), Member: in.ID})
		all = p.HGetAll(ctx, k)
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return sessionOf(all.Val()), nil
}

func (r *Redis) List() ([]Session, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	ids, err := r.c.ZRange(ctx, r.key("sessions"), 0, -1).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.HGetAll(ctx, r.key("session", id))
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]Session, 0, len(ids))
	for _, c := range cmds {
		if m := c.(*redis.MapStringStringCmd).Val(); len(m) > 0 {
			out = append(out, *sessionOf(m))
		}
	}
	return out, nil
}

func (r *Redis) Delete(id string) error {
	ctx, cancel := r.ctx()
	defer cancel()
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.key("session", id))
		p.ZRem(ctx, r.key("sessions"), id)
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	return nil
}

func (r *Redis) Close() error { return r.c.Close() }

// --- Lockout, shared: an attacker cannot spread guesses over gateways.

func (r *Redis) Locked(addr string) (bool, time.Time, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	d, err := r.c.PTTL(ctx, r.key("lock", addr)).Result()
	if err != nil {
		return false, time.Time{}, storeErr(err)
	}
	if d > 0 {
		return true, time.Now().Add(d), nil
	}
	return false, time.Time{}, nil
}

// Reset deletes every lock and failure counter of the cluster.
func (r *Redis) Reset() (int, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	locked := 0
	for _, pattern := range []string{"lock", "authfail"} {
		iter := r.c.Scan(ctx, 0, r.key(pattern, "*"), 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return locked, storeErr(err)
		}
		if len(keys) == 0 {
			continue
		}
		if err := r.c.Del(ctx, keys...).Err(); err != nil {
			return locked, storeErr(err)
		}
		if pattern == "lock" {
			locked = len(keys)
		}
	}
	return locked, nil
}

func (r *Redis) Fail(addr string) (bool, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	k := r.key("authfail", addr)
	var n *redis.IntCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.ExpireNX(ctx, k, r.window)
		return nil
	})
	if err != nil {
		return false, storeErr(err)
	}
	if int(n.Val()) < r.max {
		return false, nil
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.key("lock", addr), "1", r.lock)
		p.Del(ctx, k)
		return nil
	})
	if err != nil {
		return false, storeErr(err)
	}
	return true, nil
}

// --- Cluster

// Join registers this gateway and keeps its membership alive (renewed at
// a third of the TTL) and, every TTL/2, marks the processes of members
// whose membership expired as ended. It returns when ctx ends, removing
// the membership.
func (r *Redis) Join(ctx context.Context, self Member) {
	r.self = self
	renew := func() {
		b, _ := json.Marshal(self)
		c, cancel := r.ctx()
		defer cancel()
		if err := r.c.Set(c, r.key("member", self.ID), b, r.ttl).Err(); err != nil {
			r.log.Error("cluster: renewing membership", "err", err)
		}
	}
	renew()
	// This gateway's own processes of a previous run are dead now, not
	// when the next reap comes round.
	if _, err := r.Reap(); err != nil {
		r.log.Error("cluster: reaping processes of dead gateways", "err", err)
	}
	beat, reap := time.NewTicker(r.ttl/3), time.NewTicker(r.ttl/2)
	defer beat.Stop()
	defer reap.Stop()
	for {
		select {
		case <-ctx.Done():
			c, cancel := r.ctx()
			r.c.Del(c, r.key("member", self.ID))
			cancel()
			return
		case <-beat.C:
			renew()
		case <-reap.C:
			if n, err := r.Reap(); err != nil {
				r.log.Error("cluster: reaping processes of dead gateways", "err", err)
			} else if n > 0 {
				r.log.Warn("cluster: marked processes of dead gateways as ended", "count", n)
			}
		}
	}
}

// SetLogger sets where membership and reaping problems are logged.
func (r *Redis) SetLogger(l *slog.Logger) { r.log = l }

// Self is this gateway.
func (r *Redis) Self() Member { return r.self }

// MemberOf returns a live member, or nil when its membership expired.
func (r *Redis) MemberOf(id string) (*Member, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	b, err := r.c.Get(ctx, r.key("member", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(err)
	}
	var m Member
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, storeErr(err)
	}
	return &m, nil
}

// PutProc records a process and its state.
func (r *Redis) PutProc(p ProcInfo) error {
	ctx, cancel := r.ctx()
	defer cancel()
	b, _ := json.Marshal(p)
	_, err := r.c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, r.key("proc", p.ID), b, 0)
		pl.SAdd(ctx, r.key("procs", p.Session), p.ID)
		if p.Status == "running" {
			pl.SAdd(ctx, r.key("procs", "running"), p.ID)
		} else {
			pl.SRem(ctx, r.key("procs", "running"), p.ID)
		}
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	return nil
}

// Proc returns what the cluster knows of a process.
func (r *Redis) Proc(id string) (*ProcInfo, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	b, err := r.c.Get(ctx, r.key("proc", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoProc
	}
	if err != nil {
		return nil, storeErr(err)
	}
	var p ProcInfo
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, storeErr(err)
	}
	return &p, nil
}

// Procs lists a session's processes on every gateway.
func (r *Redis) Procs(session string) ([]ProcInfo, error) {
	ctx, cancel := r.ctx()
	defer cancel()
	ids, err := r.c.SMembers(ctx, r.key("procs", session)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	var out []ProcInfo
	for _, id := range ids {
		if p, err := r.Proc(id); err == nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// DeleteProc forgets a process.
func (r *Redis) DeleteProc(p ProcInfo) error {
	ctx, cancel := r.ctx()
	defer cancel()
	_, err := r.c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Del(ctx, r.key("proc", p.ID))
		pl.SRem(ctx, r.key("procs", p.Session), p.ID)
		pl.SRem(ctx, r.key("procs", "running"), p.ID)
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	return nil
}

// Reap marks running processes whose owner is no longer a member as
// ended, and those whose owner's membership is younger than the process
// (it restarted since) as killed: their gateway died, and its jails died
// with it (the runner kills a jail when its parent dies).
func (r *Redis) Reap() (int, error) {
	ctx, cancel := r.ctx()
	ids, err := r.c.SMembers(ctx, r.key("procs", "running")).Result()
	cancel()
	if err != nil {
		return 0, storeErr(err)
	}
	n := 0
	for _, id := range ids {
		p, err := r.Proc(id)
		if err != nil || p.Status != "running" {
			continue
		}
		m, err := r.MemberOf(p.Owner)
		if err != nil {
			return n, err
		}
		switch {
		case m == nil:
			p.Status, p.ExitCode = "ended", -1
			p.Error = fmt.Sprintf("its gateway %s stopped renewing its membership; its jail died with it", p.Owner)
		case m.Started.After(p.Started): // the owner restarted since
			p.Status, p.ExitCode = "killed", -1
			p.Error = fmt.Sprintf("killed by a restart of its gateway %s: the jail died with the run that started it", p.Owner)
		default:
			continue
		}
		if err := r.PutProc(*p); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SetAuditHead records this gateway's audit chain head, so that an
// operator can check every gateway's log against what it last announced.
func (r *Redis) SetAuditHead(seq uint64, hash string) error {
	ctx, cancel := r.ctx()
	defer cancel()
	err := r.c.HSet(ctx, r.key("audit", r.self.ID), "seq", seq, "hash", hash, "time", time.Now().UTC().Format(time.RFC3339Nano)).Err()
	if err != nil {
		return storeErr(err)
	}
	return nil
}
