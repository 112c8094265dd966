package gateway

import (
	"fmt"
	"net/http"
	"strconv"
)

// checkChannel applies channels.*: a call that names a configured channel
// must come from an allowed chat or user; when channels are configured, a
// call from an unknown or disabled channel is refused. A call naming no
// channel is a direct API call (token only).
func (s *Server) checkChannel(req *Request) error {
	ch := s.cfg.Channels
	configured := ch.Feishu != nil || ch.Telegram != nil
	deny := func(format string, args ...any) error {
		return &httpError{http.StatusForbidden, "channel_denied", fmt.Sprintf(format, args...)}
	}
	switch req.Channel {
	case "":
		return nil
	case "feishu":
		f := ch.Feishu
		if f == nil || !f.Enabled {
			return deny("channel feishu is not enabled")
		}
		for _, d := range f.Denylist {
			if d == req.ChatID {
				return deny("feishu chat %q is on the denylist", req.ChatID)
			}
		}
		if f.Mode == "allowlist" || f.Mode == "" {
			for _, a := range f.Allowlist {
				if a == req.ChatID {
					return nil
				}
			}
			return deny("feishu chat %q is not on the allowlist", req.ChatID)
		}
		return nil
	case "telegram":
		t := ch.Telegram
		if t == nil || !t.Enabled {
			return deny("channel telegram is not enabled")
		}
		if contains64(t.AllowedChats, req.ChatID) || contains64(t.AllowedUsers, req.UserID) {
			return nil
		}
		return deny("telegram user %q in chat %q is not allowed (allowedUsers, allowedChats)", req.UserID, req.ChatID)
	}
	if configured {
		return deny("unknown channel %q", req.Channel)
	}
	return deny("channel %q is not configured", req.Channel)
}

func contains64(list []int64, s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return false
	}
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
