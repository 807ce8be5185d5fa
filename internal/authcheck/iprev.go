package authcheck

import (
	"context"
	"net/netip"
	"strings"

	"postern/internal/resolve"
)

// maxPTRNames bounds the names of an address that are confirmed.
const maxPTRNames = 5

type iprevResult struct {
	result string
	name   string // the confirmed name
}

// checkIPRev confirms the client's address through its PTR names: pass
// when one of them resolves back to it (RFC 8601 §3, FCrDNS).
func (c *Checker) checkIPRev(ctx context.Context, ip netip.Addr) iprevResult {
	names, err := c.o.Resolver.LookupAddr(ctx, ip.String())
	switch {
	case resolve.IsNotFound(err):
		return iprevResult{result: "fail"}
	case err != nil:
		return iprevResult{result: "temperror"}
	}
	temp := false
	for i, name := range names {
		if i == maxPTRNames {
			break
		}
		addrs, err := c.o.Resolver.LookupIPAddr(ctx, name)
		if err != nil {
			temp = temp || resolve.IsTemporary(err)
			continue
		}
		for _, a := range addrs {
			if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip.Unmap() {
				return iprevResult{result: "pass", name: strings.TrimSuffix(name, ".")}
			}
		}
	}
	if temp {
		return iprevResult{result: "temperror"}
	}
	return iprevResult{result: "fail"}
}
