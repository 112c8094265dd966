package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/openclaw-run/openclaw-run/egress"
	"github.com/openclaw-run/openclaw-run/internal/strictjson"
	"github.com/openclaw-run/openclaw-run/runner"
)

// toolNDJSON serves POST /v1/tools/{tool}: one JSON event per line,
// flushed per event. The status is decided by the first event after start:
// a refusal (policy, parameters) is answered with its status code and the
// error event; anything else streams with 200.
func (s *Server) toolNDJSON(w http.ResponseWriter, r *http.Request) {
	if t := r.PathValue("tool"); s.full() && t != "process" && t != "sessions_spawn" {
		s.refuseOverload(r.Context(), nil)
		writeErr(w, errOverloaded)
		return
	}
	req, err := DecodeRequest(http.MaxBytesReader(w, r.Body, s.maxBody()+1), s.maxBody())
	if err != nil {
		writeErr(w, err)
		return
	}
	req.Tool = r.PathValue("tool")
	s.from(req, r)
	if evs, ok, err := s.gatewayTool(req); ok {
		if err != nil {
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, e := range evs {
			json.NewEncoder(w).Encode(e)
		}
		return
	}
	rn, call, err := s.prepare(req)
	if err != nil {
		writeErr(w, err)
		return
	}
	ctx, cancel := s.callContext(r)
	defer cancel()
	release, err := s.admit(ctx, req, &call)
	if err != nil {
		writeErr(w, err)
		return
	}
	defer release()

	flusher, _ := w.(http.Flusher)
	enc := &ndjson{w: w}
	var held *runner.Event
	started := false
	begin := func(status int) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		started = true
		if held != nil {
			enc.Encode(held)
			held = nil
		}
	}
	t0 := time.Now()
	rn.Run(ctx, call, func(e runner.Event) error {
		s.observe(call.Tool, e, t0)
		if e.Type == "start" {
			held = &e
			return nil
		}
		if !started {
			if e.Type == "error" {
				begin(statusOf(e.Code))
			} else {
				begin(http.StatusOK)
			}
		}
		if err := enc.Encode(&e); err != nil {
			return err // the client is gone: cancel, kill the jail
		}
		if flusher != nil {
			flusher.Flush()
		}
		return ctx.Err()
	})
	if !started {
		begin(http.StatusOK)
	}
}

// ndjson writes events one per line. Output events, nearly all the bytes
// of a stream, are encoded by hand in one pass (appendOutput); the rest
// by encoding/json.
type ndjson struct {
	w   io.Writer
	buf []byte
}

func (n *ndjson) Encode(e *runner.Event) error {
	if (e.Type == "stdout" || e.Type == "stderr") && e.Base64 == "" && e.Result == nil && e.Output == nil && e.Code == "" {
		n.buf = appendOutput(n.buf[:0], e)
	} else {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		n.buf = append(append(n.buf[:0], b...), '\n')
	}
	_, err := n.w.Write(n.buf)
	if cap(n.buf) > 1<<20 {
		n.buf = nil // one large chunk does not pin its buffer for the whole stream
	}
	return err
}

// appendOutput encodes {"type","callId","data"} as encoding/json would,
// for data that is valid UTF-8 (the runner sends anything else as base64):
// quotes, backslashes and control characters escaped, the rest copied in
// runs. (encoding/json also escapes <, >, & and U+2028/9 for HTML and
// JavaScript embedding; an NDJSON stream needs neither.)
func appendOutput(b []byte, e *runner.Event) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","callId":"`...)
	b = append(b, e.CallID...)
	b = append(b, `","data":"`...)
	const hex = "0123456789abcdef"
	d := e.Data
	start := 0
	for i := 0; i < len(d); i++ {
		// Eight bytes at a time past those that need no escape (nearly
		// all of them: text has a newline every few dozen bytes).
		for i+8 <= len(d) && !needsEscape(uint64(d[i])|uint64(d[i+1])<<8|uint64(d[i+2])<<16|uint64(d[i+3])<<24|
			uint64(d[i+4])<<32|uint64(d[i+5])<<40|uint64(d[i+6])<<48|uint64(d[i+7])<<56) {
			i += 8
		}
		if i == len(d) {
			break
		}
		c := d[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, d[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, d[start:]...)
	return append(b, '"', '}', '\n')
}

// needsEscape reports whether any of the eight bytes of w is a control
// character, a quote or a backslash. Each test is the "has a byte less
// than n" trick (Hacker's Delight 6-1): a byte's top bit survives only if
// subtracting borrowed through it and it was clear before, so bytes of
// UTF-8 sequences (top bit set) never match; a borrow can flag a byte
// above a matching one, never a word with no match.
func needsEscape(w uint64) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	q, bs := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*0x20)&^w|(q-ones)&^q|(bs-ones)&^bs)&tops != 0
}

// observe feeds the metrics from a call's events.
func (s *Server) observe(tool string, e runner.Event, t0 time.Time) {
	s.debugEvent(e)
	switch e.Type {
	case "stdout", "stderr":
		s.metrics.bytes.Add(float64(len(e.Data) + len(e.Base64)))
	case "result":
		status := statusOK
		if e.Result != nil && e.Result.ExitCode != 0 {
			status = statusExitNonzero
		}
		s.metrics.calls.WithLabelValues(tool, status).Inc()
		s.metrics.latency.WithLabelValues(tool).Observe(time.Since(t0).Seconds())
		if e.Result != nil {
			s.metrics.setup.Observe(e.Result.SetupMs / 1000)
			if r, ok := e.Result.Egress.(egress.Report); ok {
				s.metrics.egressConns.WithLabelValues("allowed").Add(float64(r.Allowed))
				s.metrics.egressConns.WithLabelValues("refused").Add(float64(r.Refused))
				s.metrics.egressBytes.WithLabelValues("up").Add(float64(r.BytesUp))
				s.metrics.egressBytes.WithLabelValues("down").Add(float64(r.BytesDown))
				for reason, n := range r.RefusedBy {
					s.metrics.egressRefusals.WithLabelValues(reason).Add(float64(n))
				}
			}
		}
	case "error":
		s.metrics.calls.WithLabelValues(tool, e.Code).Inc()
		if e.Code == "policy_denied" || e.Code == "invalid_params" {
			s.metrics.denials.WithLabelValues(e.Code).Inc()
		}
	}
}

// invoke serves OpenClaw's POST /tools/invoke {tool, args, sessionKey}:
// the whole result at once.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Tool       string          `json:"tool"`
		Args       json.RawMessage `json:"args"`
		SessionKey string          `json:"sessionKey,omitempty"`
		Action     string          `json:"action,omitempty"`
		DryRun     bool            `json:"dryRun,omitempty"`
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err == nil {
		err = strictjson.Decode(data, &body)
	}
	if err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, "invalid_request", "malformed request: "+err.Error())
		return
	}
	req := s.from(&Request{Tool: body.Tool, Args: body.Args, SessionID: body.SessionKey}, r)
	if evs, ok, err := s.gatewayTool(req); ok {
		if err != nil {
			writeJSON(w, statusOfErr(err), map[string]any{"ok": false, "error": errBody(err)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{"output": evs[len(evs)-1].Output}})
		return
	}
	rn, call, err := s.prepare(req)
	if err != nil {
		writeJSON(w, statusOfErr(err), map[string]any{"ok": false, "error": errBody(err)})
		return
	}
	ctx, cancel := s.callContext(r)
	defer cancel()
	release, err := s.admit(ctx, req, &call)
	if err != nil {
		writeJSON(w, statusOfErr(err), map[string]any{"ok": false, "error": errBody(err)})
		return
	}
	defer release()
	var stdout, stderr []byte
	const keep = 1 << 20
	var final runner.Event
	t0 := time.Now()
	rn.Run(ctx, call, func(e runner.Event) error {
		s.observe(call.Tool, e, t0)
		switch e.Type {
		case "stdout":
			if len(stdout) < keep {
				stdout = append(stdout, e.Data...)
			}
		case "stderr":
			if len(stderr) < keep {
				stderr = append(stderr, e.Data...)
			}
		case "result", "error":
			final = e
		}
		return ctx.Err()
	})
	if final.Type == "error" {
		writeJSON(w, statusOf(final.Code), map[string]any{"ok": false, "error": map[string]any{"code": final.Code, "message": final.Message}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{
		"stdout": string(stdout), "stderr": string(stderr), "output": final.Output, "details": final.Result}})
}

func errBody(err error) map[string]any {
	var he *httpError
	if asHTTP(err, &he) {
		return map[string]any{"code": he.code, "message": he.message}
	}
	return map[string]any{"code": "internal", "message": err.Error()}
}

func statusOfErr(err error) int {
	var he *httpError
	if asHTTP(err, &he) {
		return he.status
	}
	return http.StatusInternalServerError
}

func numCPU() int { return runtime.NumCPU() }

func ownerOf(st os.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid)
	}
	return -1
}
