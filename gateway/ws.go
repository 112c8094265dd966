package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/openclaw-run/openclaw-run/runner"
)

// Frame is a WebSocket message, in the shape of OpenClaw's own gateway:
// {type:"req", id, method, params}, {type:"res", id, ok, payload|error},
// {type:"event", event, payload, seq}.
type Frame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	OK      *bool           `json:"ok,omitempty"`
	Payload any             `json:"payload,omitempty"`
	Error   any             `json:"error,omitempty"`
	Event   string          `json:"event,omitempty"`
	Seq     int64           `json:"seq,omitempty"`
}

const (
	pingEvery    = 20 * time.Second
	writeTimeout = 10 * time.Second
)

// websocket serves GET /v1/ws: many concurrent calls per connection, one
// writer goroutine, pings with deadlines, tools.cancel by request id. The
// origin was checked by guard (coder/websocket's own check is replaced by
// the allowOrigins patterns).
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	c.SetReadLimit(s.maxBody())
	ctx, cancel := s.callContext(r)
	defer cancel()
	out := make(chan Frame, 256)
	var seq atomic.Int64
	var calls sync.Map // id -> context.CancelFunc
	var wg sync.WaitGroup

	// The one writer.
	go func() {
		defer s.Recovered("websocket writer", nil)
		defer cancel()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case f := <-out:
				wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
				err := wsjson.Write(wctx, c, f)
				wcancel()
				if err != nil {
					cancel()
					return
				}
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, writeTimeout)
				err := c.Ping(pctx)
				pcancel()
				if err != nil {
					cancel() // no pong: the client is gone, its calls die
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	send := func(f Frame) error {
		select {
		case out <- f:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ok, notOK := true, false
	reply := func(id string, payload any, err error) {
		if err != nil {
			send(Frame{Type: "res", ID: id, OK: &notOK, Error: errBody(err)})
			return
		}
		send(Frame{Type: "res", ID: id, OK: &ok, Payload: payload})
	}
	for {
		var f Frame
		if err := wsjson.Read(ctx, c, &f); err != nil {
			break
		}
		if f.Type != "req" || f.ID == "" {
			reply(f.ID, nil, &httpError{http.StatusBadRequest, "invalid_request", "frames are {type:\"req\", id, method, params}"})
			continue
		}
		switch f.Method {
		case "tools.cancel":
			var p struct {
				ID string `json:"id"`
			}
			json.Unmarshal(f.Params, &p)
			if cf, found := calls.Load(p.ID); found {
				cf.(context.CancelFunc)()
				reply(f.ID, map[string]any{"canceled": p.ID}, nil)
			} else {
				reply(f.ID, nil, &httpError{http.StatusNotFound, "not_found", fmt.Sprintf("no running call %q", p.ID)})
			}
		case "tools.call":
			req, err := DecodeRequest(bytesReader(f.Params), s.maxBody())
			if err != nil {
				reply(f.ID, nil, err)
				continue
			}
			s.from(req, r)
			if evs, ok, err := s.gatewayTool(req); ok {
				if err == nil {
					reply(f.ID, map[string]any{"output": evs[len(evs)-1].Output}, nil)
				} else {
					reply(f.ID, nil, err)
				}
				continue
			}
			rn, call, err := s.prepare(req)
			if err != nil {
				reply(f.ID, nil, err)
				continue
			}
			cctx, ccancel := context.WithCancel(ctx)
			calls.Store(f.ID, ccancel)
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				var perr error
				defer func() {
					if perr != nil {
						reply(id, nil, perr)
					}
				}()
				defer s.Recovered("websocket call", &perr)
				defer calls.Delete(id)
				defer ccancel()
				release, err := s.admit(cctx, req, &call)
				if err != nil {
					reply(id, nil, err)
					return
				}
				defer release()
				var final runner.Event
				t0 := time.Now()
				rn.Run(cctx, call, func(e runner.Event) error {
					s.observe(call.Tool, e, t0)
					if e.Type == "result" || e.Type == "error" {
						final = e
					}
					return send(Frame{Type: "event", Event: "tool", ID: id, Payload: e, Seq: seq.Add(1)})
				})
				if final.Type == "error" {
					reply(id, nil, &httpError{statusOf(final.Code), final.Code, final.Message})
				} else {
					reply(id, map[string]any{"result": final.Result, "output": final.Output}, nil)
				}
			}(f.ID)
		default:
			reply(f.ID, nil, &httpError{http.StatusBadRequest, "invalid_request", fmt.Sprintf("unknown method %q (tools.call, tools.cancel)", f.Method)})
		}
	}
	cancel()
	wg.Wait()
	c.Close(websocket.StatusNormalClosure, "")
}
