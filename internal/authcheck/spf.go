package authcheck

import (
	"context"
	"errors"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
)

type spfResult struct {
	result string // RFC 7208 §2.6 result, "" when not checked
	reason string
	// domain is the identity checked: the MAIL FROM domain, or the HELO
	// name for the null sender (RFC 7208 §2.4).
	domain string
}

// checkSPF evaluates the SPF record of the envelope sender's domain.
func (c *Checker) checkSPF(ctx context.Context, in Input) spfResult {
	domain := strings.ToLower(in.Helo)
	if at := strings.LastIndexByte(in.MailFrom, '@'); at >= 0 {
		domain = strings.ToLower(in.MailFrom[at+1:])
	}
	out := spfResult{domain: domain}
	if domain == "" || strings.HasPrefix(domain, "[") {
		out.result, out.reason = "none", "no domain to check"
		return out
	}
	res, err := spf.CheckHostWithSender(net.IP(in.IP.AsSlice()), in.Helo, in.MailFrom,
		spf.WithContext(ctx), spf.WithResolver(c.o.Resolver))
	out.result = string(res)
	if err != nil && res != spf.Pass && !errors.Is(err, spf.ErrNoResult) {
		out.reason = err.Error()
	}
	return out
}
