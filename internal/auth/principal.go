package auth

import (
	"context"
	"errors"
	"net/netip"
)

// Principal is what LoginPrincipal needs to know of a name that is not a
// mail account (an administrator of the admin listener): its password hash
// and, optionally, a second factor.
type Principal struct {
	// Found is false for an unknown name; PasswordHash is then ignored.
	Found        bool
	PasswordHash string
	// SecondFactor, when set, is checked once the password matched (a
	// TOTP code): false fails the login like a wrong password.
	SecondFactor func() bool
}

// PrincipalLookup finds a principal by its normalised name; an unknown name
// is Principal{Found: false} and a nil error.
type PrincipalLookup func(ctx context.Context, name string) (Principal, error)

// LoginPrincipal checks a password (and second factor) of a principal of
// another kind than mail accounts, such as "admin", under the same
// throttle as every protocol's logins: a source's failures count together
// whatever it tries, while the per-name limits and delays are kept apart
// from the accounts' by prefixing the name with kind. It takes the same
// time for unknown names and gives ErrFailed or ErrThrottled like Login.
func (s *Service) LoginPrincipal(ctx context.Context, remote netip.Addr, kind, name, password string,
	lookup PrincipalLookup) error {
	name = normalizeUsername(name)
	key := kind + ":" + name
	src := sourceOf(remote)
	log := s.logger.With("protocol", Protocol(ctx), "remote", remote.String(), "principal", kind, "user", clip(name))
	if s.thr.blocked(s.opts.Now(), src, key) {
		log.Warn("auth throttled")
		return ErrThrottled
	}
	var p Principal
	if name != "" && len(name) <= maxUsernameBytes {
		var err error
		if p, err = lookup(ctx, name); err != nil {
			log.Error("auth error", "err", err)
			return err
		}
	}
	reason, failures, err := s.checkPrincipal(ctx, src, key, p, password)
	switch {
	case errors.Is(err, ErrThrottled):
		log.Warn("auth throttled")
		return err
	case err != nil:
		return err
	case reason != "":
		return s.failed(ctx, log, failures, reason)
	}
	s.thr.succeed(src, key)
	log.Info("auth ok")
	return nil
}

// checkPrincipal is check for a Principal: argon2id under the semaphore,
// against the dummy hash when there is no real one.
func (s *Service) checkPrincipal(ctx context.Context, src netip.Prefix, key string, p Principal,
	password string) (reason string, failures int, err error) {
	hash := s.dummyHash
	if p.Found && p.PasswordHash != "" {
		hash = p.PasswordHash
	}
	tooLong := len(password) > maxPasswordBytes
	if tooLong {
		password = password[:maxPasswordBytes]
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
	defer func() { <-s.sem }()
	now := s.opts.Now()
	if s.thr.blocked(now, src, key) {
		return "", 0, ErrThrottled
	}
	ok, verr := s.verify(hash, password)
	switch {
	case !p.Found:
		reason = "unknown user"
	case p.PasswordHash == "":
		reason = "no password set"
	case verr != nil:
		reason = "unusable stored hash: " + verr.Error()
	case !ok || tooLong:
		reason = "wrong password"
	case p.SecondFactor != nil && !p.SecondFactor():
		reason = "wrong second factor"
	}
	if reason != "" {
		failures = s.thr.fail(now, src, key)
	}
	return reason, failures, nil
}
