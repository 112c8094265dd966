package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/openclaw-run/openclaw-run/config"
	"github.com/openclaw-run/openclaw-run/gateway"
)

// cmdChannels is "openclaw-run channels list | test NAME | auth NAME
// --check": the configured channels (channels.* of the config) and
// whether a user or chat would be admitted, by the gateway's own rule
// (gateway.AdmitChannel). The bots themselves are OpenClaw's: nothing here
// connects to Telegram or Feishu.
func cmdChannels(args []string, stdout, stderr io.Writer) int {
	fs := flags("channels", "list | test NAME | auth NAME [--user ID] [--chat ID] --check [--config F]", stderr)
	user := fs.String("user", "", "auth: the user id (telegram: numeric)")
	chat := fs.String("chat", "", "auth: the chat id")
	check := fs.Bool("check", false, "auth: only say whether the call would be admitted (exit 0) or refused (exit 1), and why")
	cfgFile := fs.String("config", "", "config file")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	want := map[string]int{"list": 1, "test": 2, "auth": 2}
	if fs.NArg() == 0 || want[fs.Arg(0)] != fs.NArg() {
		return fs.Fail("want list, test NAME or auth NAME --check")
	}
	_, cfg, err := loadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ch := cfg.Channels
	switch fs.Arg(0) {
	case "list":
		if ch.Feishu == nil && ch.Telegram == nil {
			fmt.Fprintln(stdout, "no channels configured (channels.feishu, channels.telegram): calls naming a channel are refused; direct API calls need only the token")
			return 0
		}
		if f := ch.Feishu; f != nil {
			fmt.Fprintf(stdout, "feishu    enabled=%t mode=%s allowlist=[%s] denylist=[%s]\n", f.Enabled, orDefault(f.Mode, "allowlist"),
				strings.Join(f.Allowlist, " "), strings.Join(f.Denylist, " "))
		}
		if t := ch.Telegram; t != nil {
			fmt.Fprintf(stdout, "telegram  enabled=%t allowedUsers=%v allowedChats=%v (a user on allowedUsers OR a chat on allowedChats is admitted)\n",
				t.Enabled, t.AllowedUsers, t.AllowedChats)
		}
		return 0
	case "test":
		return channelTest(ch, fs.Arg(1), stdout)
	}
	if !*check {
		return fs.Fail("auth: add --check (the only mode: it says whether the call would be admitted)")
	}
	if *user == "" && *chat == "" {
		return fs.Fail("auth: name --user, --chat or both")
	}
	if err := gateway.AdmitChannel(ch, fs.Arg(1), *user, *chat); err != nil {
		fmt.Fprintf(stdout, "refused: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "admitted: a call on channel %s from user %q in chat %q\n", fs.Arg(1), *user, *chat)
	return 0
}

// channelTest checks one channel's configuration: present, enabled, and
// admitting someone. Exit 0 when usable, 1 when not (with why).
func channelTest(ch config.Channels, name string, stdout io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stdout, "FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
		return 1
	}
	switch name {
	case "feishu":
		f := ch.Feishu
		switch {
		case f == nil:
			return fail("not configured (channels.feishu)")
		case !f.Enabled:
			return fail("configured but not enabled: every call naming it is refused")
		case orDefault(f.Mode, "allowlist") == "allowlist" && len(f.Allowlist) == 0:
			return fail("mode allowlist with an empty allowlist: every chat is refused")
		}
	case "telegram":
		t := ch.Telegram
		switch {
		case t == nil:
			return fail("not configured (channels.telegram)")
		case !t.Enabled:
			return fail("configured but not enabled: every call naming it is refused")
		case len(t.AllowedUsers) == 0 && len(t.AllowedChats) == 0:
			return fail("no allowedUsers and no allowedChats: every call is refused")
		}
	default:
		return fail("unknown channel (this runner knows feishu and telegram)")
	}
	fmt.Fprintf(stdout, "OK %s: enabled and admitting the configured users or chats (configuration only: the bot's connection is OpenClaw's, test it there)\n", name)
	return 0
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
