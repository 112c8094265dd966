// Package client calls tools on an openclaw-run gateway over its NDJSON
// endpoint and hands the events to the caller as they arrive.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Event is one line of the stream (see docs/events.md).
type Event struct {
	Type    string          `json:"type"`
	CallID  string          `json:"callId,omitempty"`
	Tool    string          `json:"tool,omitempty"`
	Data    string          `json:"data,omitempty"`
	Base64  string          `json:"base64,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Output  json.RawMessage `json:"output,omitempty"`
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
}

// Client talks to one gateway.
type Client struct {
	URL   string // e.g. http://127.0.0.1:18789
	Token string
	HTTP  *http.Client
}

// Request is a call's optional context.
type Request struct {
	SessionID, UserID, Channel, ChatID, Profile string
}

// Call runs tool with args and calls emit for each event. It returns an
// error for a refused request (with the gateway's message) or a broken
// stream; a tool failure arrives as an "error" event.
func (c *Client) Call(ctx context.Context, tool string, args any, req Request, emit func(Event) error) error {
	body, err := json.Marshal(map[string]any{"args": args, "sessionId": req.SessionID, "userId": req.UserID,
		"channel": req.Channel, "chatId": req.ChatID, "profile": req.Profile})
	if err != nil {
		return err
	}
	// Drop empty optional fields (the gateway rejects nothing but unknown ones).
	var m map[string]any
	json.Unmarshal(body, &m)
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	body, _ = json.Marshal(m)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/v1/tools/"+tool, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+c.Token)
	hr.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("gateway sent a line that is not an event: %v", err)
		}
		if err := emit(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/x-ndjson" {
		return fmt.Errorf("gateway answered %s", resp.Status)
	}
	return nil
}
