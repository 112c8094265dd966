package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// UnmarshalJSON reads a request as the plain struct does, strictly (no
// unknown fields), except that userId and chatId may also be integers:
// Telegram's ids are numbers, and a client that sends them as such must
// not be refused.
func (r *Request) UnmarshalJSON(b []byte) error {
	type plain Request
	var aux struct {
		*plain
		UserID flexID `json:"userId,omitempty"`
		ChatID flexID `json:"chatId,omitempty"`
	}
	aux.plain = (*plain)(r)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	r.UserID, r.ChatID = string(aux.UserID), string(aux.ChatID)
	return nil
}

// flexID is an id given as a JSON string or integer.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		err := json.Unmarshal(b, &s)
		*f = flexID(s)
		return err
	}
	if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
		return errors.New("userId and chatId: want a string or an integer, got " + string(b))
	}
	*f = flexID(b)
	return nil
}
