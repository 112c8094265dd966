package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Address families, socket(2) and socketpair(2).
//
// The exec tiers allow the families ordinary programs use (AF_UNIX,
// AF_INET, AF_INET6, and AF_NETLINK with NETLINK_ROUTE for getifaddrs(3)).
// Every other family that the kernel implements is refused with EPERM and
// reported (Deny): creating such a socket reaches protocol code that
// developer tools never need, and that an unprivileged socket(2) can even
// load as a module (request_module("net-pf-N"), net/socket.c
// __sock_create), which is how many of the bugs below became local root.
// A family number the kernel does not implement stays at the default
// ENOSYS, as any call no rule names does: nothing to report, and programs
// that probe for a family see "not there".
//
// The domain (argument 0) and the netlink protocol (argument 2) are ints:
// the kernel reads their low 32 bits only, so the conditions mask the high
// word away too, as the ioctl rules do.

// family is an address family refused with EPERM, with the reason shown by
// `seccomp dump`. CVE numbers are the published ones for bugs in that
// family's own code; a family without one is listed for its attack surface.
type family struct {
	af   uint32
	name string
	why  string
}

// refusedFamilies are the families the exec tiers refuse and report.
var refusedFamilies = []family{
	{unix.AF_PACKET, "AF_PACKET", "raw link-layer packets; packet_set_ring and tpacket_rcv bugs gave local root (CVE-2016-8655, CVE-2017-7308, CVE-2020-14386)"},
	{unix.AF_ALG, "AF_ALG", "the kernel crypto API from user space (use-after-free in af_alg_release: CVE-2019-8912)"},
	{unix.AF_VSOCK, "AF_VSOCK", "host/guest sockets; races in af_vsock.c gave local root (CVE-2021-26708)"},
	{unix.AF_KEY, "AF_KEY", "PF_KEYv2 IPsec key management (kernel memory leak in pfkey_register: CVE-2022-1353)"},
	{unix.AF_XDP, "AF_XDP", "express data path sockets (out-of-bounds write in xdp_umem_reg: CVE-2020-12659)"},
	{unix.AF_RDS, "AF_RDS", "reliable datagram sockets (rds_page_copy_user wrote to kernel memory: CVE-2010-3904)"},
	{unix.AF_TIPC, "AF_TIPC", "cluster IPC (heap overflow in tipc crypto key handling: CVE-2021-43267)"},
	{unix.AF_BLUETOOTH, "AF_BLUETOOTH", "Bluetooth sockets (use-after-free in hci_sock_bound_ioctl: CVE-2021-3573)"},
	{unix.AF_CAN, "AF_CAN", "CAN bus sockets (race in the BCM protocol gave local root: CVE-2021-3609)"},
	{unix.AF_LLC, "AF_LLC", "IEEE 802.2 LLC: old, rarely used protocol code"},
	{unix.AF_NFC, "AF_NFC", "NFC sockets (use-after-free in llcp sockets: CVE-2021-23134)"},
	{unix.AF_PPPOX, "AF_PPPOX", "PPP over Ethernet and L2TP (pppol2tp socket options: CVE-2014-4943)"},
	{unix.AF_X25, "AF_X25", "X.25: old, rarely used protocol code"},
	{unix.AF_AX25, "AF_AX25", "amateur radio AX.25 (use-after-free and NULL dereferences: CVE-2022-1199)"},
	{unix.AF_IEEE802154, "AF_IEEE802154", "IEEE 802.15.4 low-rate wireless: hardware protocol code"},
	{unix.AF_SMC, "AF_SMC", "shared memory communications over RDMA: large, rarely used protocol code"},
	{unix.AF_KCM, "AF_KCM", "kernel connection multiplexor: rarely used protocol code"},
	{unix.AF_QIPCRTR, "AF_QIPCRTR", "Qualcomm IPC router: hardware protocol code"},
	{unix.AF_MCTP, "AF_MCTP", "management component transport: hardware protocol code"},
	{unix.AF_RXRPC, "AF_RXRPC", "AFS RxRPC: rarely used protocol code"},
	{unix.AF_APPLETALK, "AF_APPLETALK", "AppleTalk: obsolete protocol code"},
	{unix.AF_NETROM, "AF_NETROM", "amateur radio NET/ROM: obsolete protocol code"},
	{unix.AF_ROSE, "AF_ROSE", "amateur radio ROSE: obsolete protocol code"},
	{unix.AF_ATMPVC, "AF_ATMPVC", "ATM: obsolete protocol code"},
	{unix.AF_ATMSVC, "AF_ATMSVC", "ATM: obsolete protocol code"},
	{unix.AF_PHONET, "AF_PHONET", "Nokia Phonet modems: hardware protocol code"},
	{unix.AF_CAIF, "AF_CAIF", "ST-Ericsson CAIF modems: hardware protocol code"},
	{unix.AF_ISDN, "AF_ISDN", "mISDN: obsolete protocol code"},
	{unix.AF_IUCV, "AF_IUCV", "s390 IUCV: hardware protocol code"},
}

// netlinkProtocols name the netlink protocols, for reports. All but
// NETLINK_ROUTE are refused: they reach kernel subsystems a jailed program
// has no business configuring or reading (netfilter, whose nf_tables bugs
// are the most exploited of recent years, e.g. CVE-2024-1086; xfrm; audit;
// uevents; SELinux; crypto; SCSI and RDMA transports).
var netlinkProtocols = map[uint32]string{
	unix.NETLINK_ROUTE:          "NETLINK_ROUTE",
	unix.NETLINK_USERSOCK:       "NETLINK_USERSOCK",
	unix.NETLINK_FIREWALL:       "NETLINK_FIREWALL",
	unix.NETLINK_SOCK_DIAG:      "NETLINK_SOCK_DIAG",
	unix.NETLINK_NFLOG:          "NETLINK_NFLOG",
	unix.NETLINK_XFRM:           "NETLINK_XFRM",
	unix.NETLINK_SELINUX:        "NETLINK_SELINUX",
	unix.NETLINK_ISCSI:          "NETLINK_ISCSI",
	unix.NETLINK_AUDIT:          "NETLINK_AUDIT",
	unix.NETLINK_FIB_LOOKUP:     "NETLINK_FIB_LOOKUP",
	unix.NETLINK_CONNECTOR:      "NETLINK_CONNECTOR",
	unix.NETLINK_NETFILTER:      "NETLINK_NETFILTER",
	unix.NETLINK_IP6_FW:         "NETLINK_IP6_FW",
	unix.NETLINK_DNRTMSG:        "NETLINK_DNRTMSG",
	unix.NETLINK_KOBJECT_UEVENT: "NETLINK_KOBJECT_UEVENT",
	unix.NETLINK_GENERIC:        "NETLINK_GENERIC",
	unix.NETLINK_SCSITRANSPORT:  "NETLINK_SCSITRANSPORT",
	unix.NETLINK_ECRYPTFS:       "NETLINK_ECRYPTFS",
	unix.NETLINK_RDMA:           "NETLINK_RDMA",
	unix.NETLINK_CRYPTO:         "NETLINK_CRYPTO",
	unix.NETLINK_SMC:            "NETLINK_SMC",
}

// netlinkMaxLinks is MAX_LINKS of include/uapi/linux/netlink.h: the kernel
// refuses a netlink protocol outside [0, 32) with EPROTONOSUPPORT itself,
// so such numbers are "unknown" here and stay ENOSYS.
const netlinkMaxLinks = 32

// socketRules are the rules of socket(2) and socketpair(2) in the exec
// tiers. Both take (domain, type, protocol), so one set serves both:
// socketpair of a refused family is refused the same way.
func socketRules() []Rule {
	calls := []string{"socket", "socketpair"}
	af := func(v uint32) Cond { return Cond{0, lowWord, uint64(v)} }
	rs := []Rule{
		{Names: calls, Action: Allow, Conds: []Cond{af(unix.AF_UNIX)}, Why: "local sockets"},
		{Names: calls, Action: Allow, Conds: []Cond{af(unix.AF_INET)}, Why: "IPv4 (the jail's network namespace has only lo unless the profile grants egress)"},
		{Names: calls, Action: Allow, Conds: []Cond{af(unix.AF_INET6)}, Why: "IPv6 (same)"},
		{Names: calls, Action: Allow, Conds: []Cond{af(unix.AF_NETLINK), {2, lowWord, unix.NETLINK_ROUTE}},
			Why: "NETLINK_ROUTE only, for getifaddrs(3) and `ip addr` inside the jail's own network namespace"},
	}
	// Every other protocol below MAX_LINKS, as the disjoint classes that
	// cover [1, 32): 16-31, 8-15, 4-7, 2-3, 1.
	for _, c := range complementBits(5, []uint32{unix.NETLINK_ROUTE}) {
		lo, hi := c[1], c[1]|^c[0]&(netlinkMaxLinks-1)
		which := fmt.Sprintf("netlink protocols %d-%d", lo, hi)
		if lo == hi {
			which = fmt.Sprintf("netlink protocol %d", lo)
		}
		rs = append(rs, Rule{Names: calls, Action: Deny, Conds: []Cond{af(unix.AF_NETLINK), {2, uint64(c[0]), uint64(c[1])}},
			Why: which + ": every protocol but NETLINK_ROUTE (netfilter: CVE-2024-1086; xfrm, audit, uevents, ...)"})
	}
	for _, f := range refusedFamilies {
		rs = append(rs, Rule{Names: calls, Action: Deny, Conds: []Cond{af(f.af)}, Why: f.name + ": " + f.why})
	}
	return rs
}

// SocketFamily names the address family of a socket(2) or socketpair(2)
// call from its arguments, as the supervisor reports a refused one:
// "AF_PACKET", or "AF_NETLINK/NETLINK_NETFILTER" with the protocol.
func SocketFamily(domain, protocol uint64) string {
	d := uint32(domain)
	if d == unix.AF_NETLINK {
		p := uint32(protocol)
		if n, ok := netlinkProtocols[p]; ok {
			return "AF_NETLINK/" + n
		}
		return fmt.Sprintf("AF_NETLINK/protocol %d", int32(p))
	}
	for _, f := range refusedFamilies {
		if f.af == d {
			return f.name
		}
	}
	return fmt.Sprintf("family %d", int32(d))
}
