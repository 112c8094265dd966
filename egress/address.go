package egress

import (
	"fmt"
	"net/netip"
)

// special is a range that is not a destination on the public internet,
// with the name the report gives it. Sources: the IANA IPv4 and IPv6
// Special-Purpose Address Registries (RFC 6890 and its updates).
type special struct {
	prefix netip.Prefix
	what   string
}

func mustSpecial(s, what string) special { return special{netip.MustParsePrefix(s), what} }

// refused4 lists the IPv4 ranges refused unless in allowAddresses. The
// metadata address and broadcast come before the ranges that hold them so
// that the report names them.
var refused4 = []special{
	mustSpecial("169.254.169.254/32", "the cloud metadata service"),
	mustSpecial("255.255.255.255/32", "broadcast"),
	mustSpecial("0.0.0.0/8", "unspecified (\"this network\", RFC 791)"),
	mustSpecial("10.0.0.0/8", "private (RFC 1918)"),
	mustSpecial("100.64.0.0/10", "shared address space, carrier-grade NAT (RFC 6598)"),
	mustSpecial("127.0.0.0/8", "loopback (RFC 1122)"),
	mustSpecial("169.254.0.0/16", "link-local (RFC 3927)"),
	mustSpecial("172.16.0.0/12", "private (RFC 1918)"),
	mustSpecial("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
	mustSpecial("192.0.2.0/24", "documentation (RFC 5737)"),
	mustSpecial("192.88.99.0/24", "6to4 relay anycast (RFC 7526)"),
	mustSpecial("192.168.0.0/16", "private (RFC 1918)"),
	mustSpecial("198.18.0.0/15", "benchmarking (RFC 2544)"),
	mustSpecial("198.51.100.0/24", "documentation (RFC 5737)"),
	mustSpecial("203.0.113.0/24", "documentation (RFC 5737)"),
	mustSpecial("224.0.0.0/4", "multicast (RFC 5771)"),
	mustSpecial("240.0.0.0/4", "reserved (RFC 1112)"),
}

// IPv6 is refused by default outside global unicast 2000::/3 (RFC 4291):
// that alone covers ::, ::1, the IPv4-compatible and -translated forms,
// the discard prefix 100::/64, ULA fc00::/7 (and with it the metadata
// address fd00:ec2::254), link-local fe80::/10, site-local fec0::/10 and
// multicast ff00::/8. The named entries below give the report a reason;
// globalUnicast6 and refused6 do the work.
var named6 = []special{
	mustSpecial("fd00:ec2::254/128", "the cloud metadata service"),
	mustSpecial("::/128", "unspecified"),
	mustSpecial("::1/128", "loopback"),
	mustSpecial("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
	mustSpecial("::/96", "IPv4-compatible (deprecated, RFC 4291)"),
	mustSpecial("::ffff:0:0:0/96", "IPv4-translated (RFC 2765)"),
	mustSpecial("100::/64", "discard-only (RFC 6666)"),
	mustSpecial("fc00::/7", "unique local (RFC 4193)"),
	mustSpecial("fe80::/10", "link-local (RFC 4291)"),
	mustSpecial("fec0::/10", "site-local (deprecated, RFC 3879)"),
	mustSpecial("ff00::/8", "multicast (RFC 4291)"),
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	// nat64 and sixToFour embed an IPv4 address that is checked in turn:
	// on an IPv6-only host behind DNS64 every public destination looks
	// like 64:ff9b::a.b.c.d, so the prefix cannot be refused wholesale, and
	// 64:ff9b::7f00:1 must not reach a loopback through the translator.
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// refused6 lists ranges inside 2000::/3 that are not public destinations.
var refused6 = []special{
	mustSpecial("2001:db8::/32", "documentation (RFC 3849)"),
	mustSpecial("2001::/32", "Teredo (RFC 4380)"),
	mustSpecial("2001::/23", "IETF protocol assignments (RFC 2928)"),
	mustSpecial("3fff::/20", "documentation (RFC 9637)"),
}

// checkAddr decides whether a destination address may be dialed: it must
// not be in a special range unless an allowAddresses prefix holds it. The
// result is "" when allowed, else why not. a must be unmapped already
// (every caller calls Unmap: ::ffff:127.0.0.1 is 127.0.0.1).
func (p *Policy) checkAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "an invalid address"
	}
	if a.Zone() != "" {
		return "a scoped (zoned) address"
	}
	a = a.Unmap()
	for _, pre := range p.allowAddrs {
		if pre.Contains(a) {
			return ""
		}
	}
	if a.Is4() {
		for _, s := range refused4 {
			if s.prefix.Contains(a) {
				return fmt.Sprintf("%s is %s", a, s.what)
			}
		}
		return ""
	}
	if nat64.Contains(a) || sixToFour.Contains(a) {
		b := a.As16()
		var v4 netip.Addr
		if nat64.Contains(a) {
			v4 = netip.AddrFrom4([4]byte(b[12:16]))
		} else {
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if why := p.checkAddr(v4); why != "" {
			return fmt.Sprintf("%s embeds %s", a, why)
		}
		return ""
	}
	if !globalUnicast6.Contains(a) {
		for _, s := range named6 {
			if s.prefix.Contains(a) {
				return fmt.Sprintf("%s is %s", a, s.what)
			}
		}
		return fmt.Sprintf("%s is not global unicast (outside 2000::/3, RFC 4291)", a)
	}
	for _, s := range refused6 {
		if s.prefix.Contains(a) {
			return fmt.Sprintf("%s is %s", a, s.what)
		}
	}
	return ""
}

// parseAllowAddress reads one allowAddresses entry: a CIDR prefix, or a bare
// address meaning just that address.
func parseAllowAddress(s string) (netip.Prefix, error) {
	var pre netip.Prefix
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return pre, fmt.Errorf("entry %q: zoned addresses are refused", s)
		}
		pre = netip.PrefixFrom(a, a.BitLen())
	} else {
		pre, err = netip.ParsePrefix(s)
		if err != nil {
			return pre, fmt.Errorf("entry %q: not an address or CIDR prefix", s)
		}
	}
	a := pre.Addr()
	switch {
	case a.Zone() != "":
		return pre, fmt.Errorf("entry %q: zoned addresses are refused", s)
	case a.Is4In6():
		return pre, fmt.Errorf("entry %q: write the IPv4 form (destinations are compared unmapped)", s)
	case pre.Masked() != pre:
		return pre, fmt.Errorf("entry %q has bits set past the prefix length; did you mean %s?", s, pre.Masked())
	}
	return pre, nil
}
