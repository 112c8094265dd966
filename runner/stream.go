package runner

import (
	"encoding/base64"
	"unicode/utf8"
)

// streamWriter turns output into stdout/stderr events. A UTF-8 sequence
// cut at a chunk boundary is held back for the next chunk, so that text
// stays text; bytes that are not UTF-8 go as base64.
type streamWriter struct {
	typ, id string
	send    func(Event)
	held    []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	buf := p
	if len(w.held) > 0 { // the rest of a character split by the last write
		buf = append(w.held, p...)
	}
	cut := len(buf)
	for i := 1; i <= utf8.UTFMax && i <= len(buf); i++ {
		if utf8.RuneStart(buf[len(buf)-i]) {
			if !utf8.FullRune(buf[len(buf)-i:]) {
				cut = len(buf) - i
			}
			break
		}
	}
	w.held = append(w.held[:0:0], buf[cut:]...)
	w.emit(buf[:cut])
	return n, nil
}

func (w *streamWriter) flush() {
	w.emit(w.held)
	w.held = nil
}

func (w *streamWriter) emit(b []byte) {
	if len(b) == 0 {
		return
	}
	if utf8.Valid(b) {
		w.send(Event{Type: w.typ, CallID: w.id, Data: string(b)})
	} else {
		w.send(Event{Type: w.typ, CallID: w.id, Base64: base64.StdEncoding.EncodeToString(b)})
	}
}
