package gateway

import (
	"strings"
	"testing"
)

// userId and chatId are accepted as strings or integers (Telegram's are
// numbers), nothing else; the rest of the request stays strict.
func TestNumericIDs(t *testing.T) {
	for body, want := range map[string]string{
		`{"args":{},"userId":12345,"chatId":-100123}`: "12345/-100123",
		`{"args":{},"userId":"u1","chatId":"c1"}`:     "u1/c1",
		`{"args":{}}`:                                  "/",
		`{"args":{},"userId":1.5}`:                     "error",
		`{"args":{},"userId":true}`:                    "error",
		`{"args":{},"userId":99999999999999999999999}`: "error",
		`{"args":{},"userId":1,"nosuch":1}`:            "error",
	} {
		req, err := DecodeRequest(strings.NewReader(body), 1<<20)
		got := "error"
		if err == nil {
			got = req.UserID + "/" + req.ChatID
		}
		if got != want {
			t.Errorf("%s: %s (%v), want %s", body, got, err, want)
		}
	}
}
