package egress

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParsePattern(t *testing.T) {
	good := []struct {
		in   string
		want Pattern
	}{
		{"pypi.org", Pattern{Host: "pypi.org"}},
		{"PyPI.ORG.", Pattern{Host: "pypi.org"}},
		{" pypi.org ", Pattern{Host: "pypi.org"}},
		{"*.pythonhosted.org", Pattern{Host: "pythonhosted.org", Wildcard: true}},
		{"github.com:443", Pattern{Host: "github.com", Port: 443}},
		{"mirror.internal:8080", Pattern{Host: "mirror.internal", Port: 8080}},
		{"*.internal", Pattern{Host: "internal", Wildcard: true}}, // not a public suffix
		{"*.github.io", Pattern{Host: "github.io", Wildcard: true}},
		{"bücher.example", Pattern{Host: "xn--bcher-kva.example"}},
		{"xn--bcher-kva.example", Pattern{Host: "xn--bcher-kva.example"}},
		{"ＰＹＰＩ.org", Pattern{Host: "pypi.org"}}, // full-width letters map to ASCII
		{"pypi。org", Pattern{Host: "pypi.org"}}, // ideographic full stop is a dot
		{"r4---sn-abc.googlevideo.com", Pattern{Host: "r4---sn-abc.googlevideo.com"}},
		{"localhost", Pattern{Host: "localhost"}},
		{"a.b.c.d.e.example:65535", Pattern{Host: "a.b.c.d.e.example", Port: 65535}},
	}
	for _, c := range good {
		got, err := ParsePattern(c.in)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParsePattern(%q) = %+v, want %+v", c.in, got, c.want)
		}
		again, err := ParsePattern(got.String())
		if err != nil || again != got {
			t.Errorf("ParsePattern(%q).String() = %q does not round-trip: %+v, %v", c.in, got.String(), again, err)
		}
	}
	bad := map[string]string{
		"":                      "empty",
		"*":                     "",
		"*.com":                 "public suffix",
		"*.co.uk":               "public suffix",
		"*.org.":                "public suffix",
		"a.*.example":           "wildcard",
		"*example.com":          "wildcard",
		"**.example.com":        "wildcard",
		"http://pypi.org":       "URL",
		"pypi.org/simple":       "URL",
		"user@pypi.org":         "URL",
		"pypi.org:0":            "port",
		"pypi.org:65536":        "port",
		"pypi.org:+443":         "port",
		"pypi.org:":             "port",
		"pypi.org:https":        "port",
		"1.2.3.4":               "allowAddresses",
		"1.2.3.4:443":           "allowAddresses",
		"[::1]:443":             "allowAddresses",
		"::1":                   "allowAddresses",
		"2130706433":            "allowAddresses",
		"0x7f.1":                "allowAddresses",
		"127.1":                 "allowAddresses",
		"0177.0.0.1":            "allowAddresses",
		"a..b":                  "label",
		"-a.example":            "hyphen",
		"a-.example":            "hyphen",
		"under_score.example":   "valid",
		"sp ace.example":        "valid",
		"pypi.org..":            "label",
		"xn--a.example":         "valid", // invalid punycode
		strings.Repeat("a", 64): "63",
		strings.Repeat("abcdefghi.", 26) + "example": "longer",
	}
	for in, want := range bad {
		_, err := ParsePattern(in)
		if err == nil {
			t.Errorf("ParsePattern(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePattern(%q) = %v, want an error mentioning %q", in, err, want)
		}
	}
}

func TestPatternMatch(t *testing.T) {
	w, _ := ParsePattern("*.pythonhosted.org")
	for name, want := range map[string]bool{
		"files.pythonhosted.org": true,
		"a.b.pythonhosted.org":   true,
		"pythonhosted.org":       false, // the apex is not included
		"evilpythonhosted.org":   false,
		"pythonhosted.org.evil":  false,
	} {
		if got := w.matchHost(name); got != want {
			t.Errorf("*.pythonhosted.org matchHost(%q) = %v", name, got)
		}
	}
	e, _ := ParsePattern("pypi.org")
	for port, want := range map[int]bool{80: true, 443: true, 8080: false, 22: false} {
		if got := e.matchPort(port); got != want {
			t.Errorf("pypi.org matchPort(%d) = %v", port, got)
		}
	}
}

func mustCompile(t *testing.T, c Config) *Policy {
	t.Helper()
	p, err := c.Compile()
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func TestCheckName(t *testing.T) {
	p := mustCompile(t, Config{Allow: []string{"pypi.org", "*.pythonhosted.org", "github.com:443", "mirror.internal:8080"}})
	cases := []struct {
		name string
		port int
		want string
	}{
		{"pypi.org", 443, ""},
		{"pypi.org", 80, ""},
		{"pypi.org", 22, ReasonPortNotAllowed},
		{"files.pythonhosted.org", 443, ""},
		{"pythonhosted.org", 443, ReasonNotAllowed},
		{"github.com", 443, ""},
		{"github.com", 80, ReasonPortNotAllowed},
		{"mirror.internal", 8080, ""},
		{"mirror.internal", 443, ReasonPortNotAllowed},
		{"evil.example", 443, ReasonNotAllowed},
	}
	for _, c := range cases {
		if got := p.checkName(c.name, c.port); got != c.want {
			t.Errorf("checkName(%s, %d) = %q, want %q", c.name, c.port, got, c.want)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	p := mustCompile(t, Config{})
	refused := []string{
		"127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.1.1", "100.64.0.1", "100.100.100.200", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.51.100.7",
		"203.0.113.9", "198.18.0.1", "198.19.255.255", "192.0.0.170", "192.88.99.1",
		"::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "fec0::1", "100::1",
		"::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b:1::1",
		"2001:db8::1", "2001::1", "2001:2::1", "3fff::1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", // NAT64 of loopback and metadata
		"2002:7f00:1::1", "2002:a00:1::", // 6to4 of loopback and 10/8
	}
	for _, s := range refused {
		a := netip.MustParseAddr(s)
		if why := p.checkAddr(a.Unmap()); why == "" {
			t.Errorf("checkAddr(%s) allowed", s)
		}
	}
	// IPv4-mapped forms are unmapped first.
	for _, s := range []string{"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1"} {
		if why := p.checkAddr(netip.MustParseAddr(s).Unmap()); why == "" {
			t.Errorf("checkAddr(%s) allowed", s)
		}
	}
	if why := p.checkAddr(netip.MustParseAddr("fe80::1%eth0")); why == "" {
		t.Error("a zoned address was allowed")
	}
	allowed := []string{"151.101.0.223", "140.82.112.3", "8.8.8.8", "2a04:4e42::223", "2606:4700::1",
		"64:ff9b::8c52:7003", "2002:8c52:7003::1", "100.63.255.255", "100.128.0.1", "172.32.0.1"}
	for _, s := range allowed {
		if why := p.checkAddr(netip.MustParseAddr(s)); why != "" {
			t.Errorf("checkAddr(%s) refused: %s", s, why)
		}
	}
	if why := p.checkAddr(netip.MustParseAddr("169.254.169.254")); !strings.Contains(why, "metadata") {
		t.Errorf("metadata address reason = %q", why)
	}

	q := mustCompile(t, Config{AllowAddresses: []string{"10.0.0.0/8", "127.0.0.1", "fd00::/8"}})
	for _, s := range []string{"10.9.8.7", "127.0.0.1", "fd12::1", "64:ff9b::a00:1"} {
		if why := q.checkAddr(netip.MustParseAddr(s)); why != "" {
			t.Errorf("with allowAddresses, checkAddr(%s) refused: %s", s, why)
		}
	}
	for _, s := range []string{"127.0.0.2", "192.168.0.1", "169.254.169.254"} {
		if why := q.checkAddr(netip.MustParseAddr(s)); why == "" {
			t.Errorf("with allowAddresses, checkAddr(%s) allowed", s)
		}
	}
}

func TestCheckLiteral(t *testing.T) {
	p := mustCompile(t, Config{AllowAddresses: []string{"127.0.0.0/8", "2001:db8::/32"}})
	cases := []struct {
		addr string
		port int
		ok   bool
	}{
		{"127.0.0.1", 443, true},
		{"127.0.0.1", 80, true},
		{"127.0.0.1", 18789, false}, // the gateway's port
		{"127.0.0.1", 22, false},
		{"::ffff:127.0.0.1", 443, true},
		{"2001:db8::5", 443, true},
		{"8.8.8.8", 443, false}, // public, but not listed: names are the allowlist
		{"10.0.0.1", 443, false},
	}
	for _, c := range cases {
		reason, _ := p.checkLiteral(netip.MustParseAddr(c.addr), c.port)
		if (reason == "") != c.ok {
			t.Errorf("checkLiteral(%s, %d) = %q, want ok=%v", c.addr, c.port, reason, c.ok)
		}
		if reason != "" && reason != ReasonIPLiteral {
			t.Errorf("checkLiteral(%s, %d) reason %q", c.addr, c.port, reason)
		}
	}
}

func TestCompileErrorsNameEntries(t *testing.T) {
	_, err := Config{
		Allow:          []string{"pypi.org", "*.com", "1.2.3.4", "ok.example:99999"},
		Hosts:          map[string]string{"mirror.internal": "not-an-ip", "bad_name": "10.0.0.1", "MIRROR.internal.": "10.0.0.2"},
		AllowAddresses: []string{"10.0.0.0/8", "10.1.2.3/8", "nonsense", "::ffff:10.0.0.0/104", "fe80::1%eth0"},
		MaxConnections: -1,
		MaxBytes:       -5,
		IdleTimeout:    -time.Second,
	}.Compile()
	if err == nil {
		t.Fatal("Compile accepted a bad config")
	}
	for _, want := range []string{`"*.com"`, `"1.2.3.4"`, `"ok.example:99999"`, `"not-an-ip"`, `"bad_name"`,
		`"10.1.2.3/8"`, "did you mean 10.0.0.0/8", `"nonsense"`, `"::ffff:10.0.0.0/104"`, `"fe80::1%eth0"`,
		"maxConnections", "maxBytes", "idleTimeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Compile error does not mention %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"pypi.org"`) {
		t.Errorf("a good entry is reported: %v", err)
	}
	// Two spellings of one name in Hosts are a duplicate.
	_, err = Config{Hosts: map[string]string{"mirror.internal": "10.0.0.1", "MIRROR.internal.": "10.0.0.2"}}.Compile()
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate hosts entry: %v", err)
	}
}

func TestCompileDefaults(t *testing.T) {
	p := mustCompile(t, Config{Allow: []string{"pypi.org"}})
	c := p.Config()
	if c.MaxConnections != DefaultMaxConnections || c.MaxBytes != DefaultMaxBytes || c.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("defaults not applied: %+v", c)
	}
	if _, err := (Config{MaxConnections: maxMaxConnections + 1}).Compile(); err == nil {
		t.Error("maxConnections above the cap accepted")
	}
}

func TestConfigJSON(t *testing.T) {
	var c Config
	src := `{"allow": ["pypi.org", "*.pythonhosted.org"], "hosts": {"mirror.internal": "10.0.0.5"},
		"allowAddresses": ["10.0.0.0/8"], "maxConnections": 16, "maxBytes": "512M", "idleTimeout": "30s"}`
	if err := json.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if c.MaxBytes != 512<<20 || c.IdleTimeout != 30*time.Second || c.MaxConnections != 16 ||
		len(c.Allow) != 2 || c.Hosts["mirror.internal"] != "10.0.0.5" || c.AllowAddresses[0] != "10.0.0.0/8" {
		t.Errorf("decoded %+v", c)
	}
	if err := json.Unmarshal([]byte(`{"maxBytes": 1048576, "idleTimeout": 2}`), &c); err != nil || c.MaxBytes != 1<<20 || c.IdleTimeout != 2*time.Second {
		t.Errorf("numeric forms: %+v, %v", c, err)
	}
	if err := json.Unmarshal([]byte(`{"alow": ["pypi.org"]}`), &c); err == nil {
		t.Error("an unknown key was accepted")
	}
	b, err := json.Marshal(Config{Allow: []string{"pypi.org"}, MaxBytes: 1 << 30, IdleTimeout: time.Minute})
	if err != nil || !strings.Contains(string(b), `"maxBytes":"1G"`) || !strings.Contains(string(b), `"idleTimeout":"1m0s"`) {
		t.Errorf("Marshal = %s, %v", b, err)
	}
}

func TestNarrow(t *testing.T) {
	op := mustCompile(t, Config{Allow: []string{"pypi.org", "*.pythonhosted.org", "github.com:443", "mirror.internal:8080", "docs.example:80", "docs.example:443"}})
	ok := [][]string{
		{"pypi.org"},
		{"PYPI.org."},
		{"pypi.org:443"},
		{"pypi.org:80"},
		{"files.pythonhosted.org"},
		{"*.pythonhosted.org"},
		{"*.cdn.pythonhosted.org:443"},
		{"github.com:443"},
		{"mirror.internal:8080"},
		{"docs.example"}, // 80 and 443 from two entries together
		{"pypi.org", "github.com:443"},
	}
	for _, allow := range ok {
		n, err := op.Narrow(allow)
		if err != nil {
			t.Errorf("Narrow(%q): %v", allow, err)
			continue
		}
		if len(n.patterns) != len(allow) {
			t.Errorf("Narrow(%q) kept %v", allow, n.patterns)
		}
	}
	bad := [][]string{
		{"evil.example"},
		{"pypi.org:8080"},
		{"pythonhosted.org"}, // the apex is not under *.pythonhosted.org
		{"*.org"},
		{"*.pypi.org"},
		{"github.com"}, // 80 is not admitted for github.com
		{"github.com:80"},
		{"mirror.internal"}, // 80/443 vs 8080
		{"pypi.org", "evil.example"},
		{"1.2.3.4"},
	}
	for _, allow := range bad {
		_, err := op.Narrow(allow)
		if err == nil {
			t.Errorf("Narrow(%q) accepted", allow)
			continue
		}
		named := false
		for _, a := range allow {
			if strings.Contains(err.Error(), a) && a != "pypi.org" {
				named = true
			}
		}
		if !named {
			t.Errorf("Narrow(%q) error does not name the pattern: %v", allow, err)
		}
	}
	n, err := op.Narrow(nil)
	if err != nil || len(n.patterns) != len(op.patterns) {
		t.Errorf("Narrow(nil) = %v, %v; want the operator's list", n, err)
	}
	// A narrowed policy narrows further, never widens.
	n, _ = op.Narrow([]string{"pypi.org:443"})
	if _, err := n.Narrow([]string{"pypi.org"}); err == nil {
		t.Error("a narrowed policy was widened back to port 80")
	}
	if got := n.checkName("pypi.org", 80); got != ReasonPortNotAllowed {
		t.Errorf("narrowed checkName(pypi.org, 80) = %q", got)
	}
}

func TestEnv(t *testing.T) {
	env := Env("127.0.0.1:3128")
	want := map[string]string{
		"HTTP_PROXY": "http://127.0.0.1:3128", "http_proxy": "http://127.0.0.1:3128",
		"HTTPS_PROXY": "http://127.0.0.1:3128", "https_proxy": "http://127.0.0.1:3128",
		"ALL_PROXY": "http://127.0.0.1:3128", "all_proxy": "http://127.0.0.1:3128",
		"NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1",
		"NODE_USE_ENV_PROXY": "1",
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Env: %s=%q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Env has extra entries: %v", env)
	}
}
