package admin

import (
	"context"
	"net/netip"
	"strings"

	"postern/internal/auth"
)

// Throttle is the login throttle of the running server (auth.Service).
type Throttle interface {
	Throttled() []auth.ThrottledKey
	Unblock(target string) int
}

// Unblock forgets the failed logins of an IP address or of a login name
// (an account address, or an administrator's name), so its logins are no
// longer refused; recorded like every change.
func (s *Service) Unblock(ctx context.Context, thr Throttle, target string) (int, error) {
	target = strings.TrimSpace(target)
	if _, err := netip.ParseAddr(target); err != nil && (target == "" || len(target) > 320 || strings.ContainsAny(target, " \t")) {
		return 0, invalid("target", target, nil, "%q is neither an IP address nor a login name", target)
	}
	if err := needActor(ctx); err != nil {
		return 0, err
	}
	n := thr.Unblock(target)
	s.audit(ctx, "auth.unblock", target, "cleared", n)
	return n, nil
}
