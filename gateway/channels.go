package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/openclaw-run/openclaw-run/config"
)

// checkChannel applies channels.*: a call that names a configured channel
// must come from an allowed chat or user; when channels are configured, a
// call from an unknown or disabled channel is refused. A call naming no
// channel is a direct API call (token only).
func (s *Server) checkChannel(req *Request) error {
	if err := AdmitChannel(s.cfg.Channels, req.Channel, req.UserID, req.ChatID); err != nil {
		return &httpError{http.StatusForbidden, "channel_denied", err.Error()}
	}
	return nil
}

// AdmitChannel is the channel rule of checkChannel, also asked by
// "openclaw-run channels auth NAME --check": nil when a call from this
// user and chat of channel is admitted, else why not. Telegram admits a
// user on allowedUsers OR a chat on allowedChats (either list suffices).
func AdmitChannel(ch config.Channels, channel, userID, chatID string) error {
	configured := ch.Feishu != nil || ch.Telegram != nil
	deny := func(format string, args ...any) error {
		return fmt.Errorf(format, args...)
	}
	req := struct{ UserID, ChatID string }{userID, chatID}
	switch channel {
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
		return deny("unknown channel %q", channel)
	}
	return deny("channel %q is not configured", channel)
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
