package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// errIPLiteral marks a host that is an address (or looks like one to some
// parser) rather than a name.
var errIPLiteral = errors.New("an IP address, not a host name")

// idnaProfile maps a name the way a resolver would look it up (UTS #46,
// non-transitional, as browsers and curl do since IDNA2008) and keeps to
// STD3 letters, digits and hyphens. CheckHyphens is off: real CDN names such
// as r4---sn-abc.googlevideo.com carry "--" in positions 3 and 4, which the
// Lookup profile would refuse; leading and trailing hyphens are still
// refused by validLabel.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.CheckHyphens(false),
)

// maxNameLen is the longest name in presentation form (RFC 1035 section
// 2.3.4: 255 octets on the wire, 253 characters without the trailing dot).
const maxNameLen = 253

// canonicalName returns the form in which names are compared: the ASCII
// (punycode) form, lower case, without one trailing dot. It refuses anything
// that is not a clean host name: empty labels, characters outside letters,
// digits and hyphens, over-long labels, and names that an URL parser or
// inet_aton(3) would read as an IPv4 address ("2130706433", "0x7f.1",
// "127.1", "0177.0.0.1"): those get errIPLiteral.
func canonicalName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty host name")
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not valid UTF-8", s)
	}
	a, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid host name: %w", s, err)
	}
	a = strings.ToLower(a)
	// One trailing dot is the absolute form of the same name (RFC 1034
	// section 3.1); it is trimmed after the mapping so that an ideographic
	// full stop (U+3002, mapped to ".") is treated alike.
	a = strings.TrimSuffix(a, ".")
	if a == "" {
		return "", fmt.Errorf("%q is not a valid host name", s)
	}
	if len(a) > maxNameLen {
		return "", fmt.Errorf("host name %.40q... is longer than %d characters", s, maxNameLen)
	}
	labels := strings.Split(a, ".")
	for _, l := range labels {
		if err := validLabel(l); err != nil {
			return "", fmt.Errorf("%q is not a valid host name: %w", s, err)
		}
	}
	if numericLabel(labels[len(labels)-1]) {
		return "", fmt.Errorf("%q: %w", s, errIPLiteral)
	}
	// The ASCII form must be its own canonical form (a valid punycode
	// label decodes and re-encodes to itself), so that every name has one
	// spelling for comparison.
	if b, err := idnaProfile.ToASCII(a); err != nil || b != a {
		return "", fmt.Errorf("%q is not a valid host name (its ASCII form %q is not stable)", s, a)
	}
	return a, nil
}

// validLabel holds a label to RFC 1123 section 2.1: 1 to 63 letters,
// digits and hyphens, neither starting nor ending with a hyphen.
// Underscores are refused: they are not valid in host names, and no HTTP
// service needs them.
func validLabel(l string) error {
	if l == "" {
		return errors.New("empty label")
	}
	if len(l) > 63 {
		return fmt.Errorf("label %.20q... is longer than 63 characters", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has character %q", l, c)
		}
	}
	return nil
}

// numericLabel reports whether the last label of a name makes the WHATWG URL
// parser (and inet_aton) read the whole host as an IPv4 address: all
// decimal digits, or 0x followed by hex digits (URL Standard, "ends in a
// number checker"). No top-level domain is numeric, so nothing real is lost.
func numericLabel(l string) bool {
	if l == "" {
		return false
	}
	if allDigits(l) {
		return true
	}
	if strings.HasPrefix(l, "0x") {
		for i := 2; i < len(l); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(l[i])) {
				return false
			}
		}
		return true
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parsePort reads a decimal port 1-65535. strconv.Atoi alone would admit
// "+80" and "-0".
func parsePort(s string) (int, error) {
	if !allDigits(s) || len(s) > 5 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

// target is where a request wants to go: a canonical name or an address
// (never both), and a port.
type target struct {
	name string
	addr netip.Addr
	port int
}

func (t target) literal() bool { return t.addr.IsValid() }

// host is the name, or the address in its canonical text form.
func (t target) host() string {
	if t.literal() {
		return t.addr.String()
	}
	return t.name
}

// authority is host:port as it goes into a Host header or a dial.
func (t target) authority() string {
	return net.JoinHostPort(t.host(), strconv.Itoa(t.port))
}

// hostAuthority is the Host header value for an origin whose default port
// is def: the port is left out when it is the default (RFC 9110 section
// 7.2).
func (t target) hostAuthority(def int) string {
	if t.port == def {
		if t.literal() && t.addr.Is6() {
			return "[" + t.addr.String() + "]"
		}
		return t.host()
	}
	return t.authority()
}

// parseTarget reads host and port (port "" means def; def 0 means a port is
// required). An address is returned unmapped (::ffff:127.0.0.1 is
// 127.0.0.1). Errors wrapping errIPLiteral mark numeric forms that are not
// clean addresses; other errors are malformed input.
func parseTarget(host, port string, def int) (target, error) {
	var t target
	switch {
	case port == "" && def == 0:
		return t, errors.New("a port is required")
	case port == "":
		t.port = def
	default:
		p, err := parsePort(port)
		if err != nil {
			return t, err
		}
		t.port = p
	}
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return t, fmt.Errorf("host %q: unbalanced bracket", host)
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return t, fmt.Errorf("host %q is not a valid IPv6 address (zones are refused)", host)
		}
		t.addr = a.Unmap()
		return t, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() {
			// An IPv6 address must come in brackets; bare it is ambiguous
			// with the port.
			return t, fmt.Errorf("host %q: an IPv6 address must be in brackets", host)
		}
		t.addr = a
		return t, nil
	}
	n, err := canonicalName(host)
	if err != nil {
		return t, err
	}
	t.name = n
	return t, nil
}
