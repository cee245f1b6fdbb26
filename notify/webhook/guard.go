package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrRefused is the cause of every refused target: errors.Is(a.Err,
// ErrRefused) tells a refused delivery from an unreachable one.
var ErrRefused = errors.New("webhook: target refused")

// refused are the ranges a webhook may not reach unless private targets are
// allowed: whoever may create a webhook must not make the node call its own
// loopback services, the cluster's private network or the cloud's metadata
// endpoint (169.254.169.254) on their behalf.
var refused = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // "this network", incl. the unspecified 0.0.0.0
		"127.0.0.0/8",    // loopback
		"10.0.0.0/8",     // private
		"172.16.0.0/12",  // private
		"192.168.0.0/16", // private
		"100.64.0.0/10",  // carrier-grade NAT (often a provider's internal network)
		"169.254.0.0/16", // link-local, cloud metadata
		"224.0.0.0/4",    // multicast
		"240.0.0.0/4",    // reserved, broadcast
		"::/128",         // unspecified
		"::1/128",        // loopback
		"fc00::/7",       // unique local
		"fe80::/10",      // link-local
		"ff00::/8",       // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4
// address in their last 32 bits through the network's translator.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedAddr reports whether a is in a refused range. An IPv4-mapped
// (::ffff:10.0.0.1) or NAT64 (64:ff9b::10.0.0.1) address is judged by the
// IPv4 address it carries.
func refusedAddr(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return true
	}
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, p := range refused {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// dialControl is the net.Dialer's Control when private targets are
// refused: it sees the address actually dialed, after name resolution, so
// a name that resolves (or rebinds) to a private address is refused too.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot judge address %q", ErrRefused, address)
	}
	if refusedAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, private, link-local or otherwise internal address (allow with --webhook-allow-private)", ErrRefused, ap.Addr())
	}
	return nil
}
