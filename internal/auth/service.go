package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"postern/internal/store"
)

// Directory is what the Service needs of the account database;
// a store with store.Directory and store.AppPasswords satisfies it.
type Directory interface {
	Account(ctx context.Context, address string) (store.Account, error)
	AppPasswords(ctx context.Context, accountID int64) ([]store.AppPassword, error)
	TouchAppPassword(ctx context.Context, id int64, at time.Time) error
	RehashPassword(ctx context.Context, accountID int64, oldHash, newHash string) (bool, error)
}

// Options tune the login throttle and the hashing concurrency. A zero field
// takes its default; a negative limit or delay turns that feature off.
type Options struct {
	// MaxFailuresPerIP is how many failed logins one source (an IPv4
	// address, or an IPv6 /64) may make within Window before its attempts
	// get ErrThrottled. Default 10.
	MaxFailuresPerIP int
	// MaxFailuresPerAccount is the same per account name tried from one
	// source, existing account or not. Default 5. An account is never
	// locked for every source: its failures from all sources only make
	// each further failure wait longer (FailureDelay).
	MaxFailuresPerAccount int
	// Window is the sliding window of both limits. Default 15 minutes.
	Window time.Duration
	// FailureDelay is how long a failed login waits before answering
	// after the account's first failure in the window; it doubles with
	// each further failure of the account, from any source, up to
	// MaxDelay. Default 500 ms.
	FailureDelay time.Duration
	// MaxDelay caps that wait. Default 5 s.
	MaxDelay time.Duration
	// MaxTracked caps the number of sources, and of account names, the
	// throttle remembers. Default 65536 each.
	MaxTracked int
	// MaxConcurrent is how many password hashes may be computed at once;
	// each argon2id computation holds 19 MiB. Default runtime.NumCPU().
	MaxConcurrent int
	// FakeSCRAMSecret keys the fake SCRAM salts given for unknown names.
	// Default: random at New, which keeps fake salts stable only until a
	// restart, while real salts survive it; pass a secret kept on disk to
	// close that hint.
	FakeSCRAMSecret []byte
	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
	// OnFailure, when set, is called at each counted failure (metrics).
	OnFailure func()
	// OnLogin, when set, is called at each successful login of an
	// account with the protocol of the context (WithProtocol): the
	// last-login record (LoginRecorder.Record). It must not block.
	OnLogin func(accountID int64, protocol string)
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxFailuresPerIP, 10)
	def(&o.MaxFailuresPerAccount, 5)
	def(&o.MaxTracked, 65536)
	def(&o.MaxConcurrent, runtime.NumCPU())
	defDur(&o.Window, 15*time.Minute)
	defDur(&o.FailureDelay, 500*time.Millisecond)
	defDur(&o.MaxDelay, 5*time.Second)
	if o.MaxConcurrent < 1 {
		o.MaxConcurrent = 1
	}
	if o.MaxTracked < 1 {
		o.MaxTracked = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// maxUsernameBytes is the longest address SMTP allows (RFC 5321 §4.5.3.1.3
// limits a path to 256 octets; 320 covers local part plus domain limits).
const maxUsernameBytes = 320

// Service checks logins for every protocol. It implements Authenticator.
type Service struct {
	dir    Directory
	opts   Options
	logger *slog.Logger
	thr    *throttle
	sem    chan struct{}
	// dummyHash is verified when there is no real hash to verify, so that an
	// unknown user costs the same argon2id work as a known one.
	dummyHash string
	// secret derives stable fake SCRAM parameters for unknown users.
	secret []byte
	// verify is CheckPassword; tests replace it to watch the semaphore.
	verify func(hash, password string) (bool, error)
}

var _ Authenticator = (*Service)(nil)

// New returns a Service reading accounts from dir. It computes one password
// hash at start, for the dummy.
func New(dir Directory, opts Options, logger *slog.Logger) *Service {
	opts = opts.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		dir:    dir,
		opts:   opts,
		logger: logger,
		thr:    newThrottle(opts.MaxFailuresPerIP, opts.MaxFailuresPerAccount, opts.Window, opts.MaxTracked),
		sem:    make(chan struct{}, opts.MaxConcurrent),
		secret: make([]byte, 32),
		verify: CheckPassword,
	}
	if len(opts.FakeSCRAMSecret) > 0 {
		s.secret = append([]byte(nil), opts.FakeSCRAMSecret...)
	} else {
		_, _ = rand.Read(s.secret)
	}
	cred, err := HashPassword(GeneratePassword())
	if err != nil {
		// Only a failing random source gets here, and crypto/rand crashes
		// the program before returning such an error.
		panic(fmt.Sprintf("auth: making the dummy hash: %v", err))
	}
	s.dummyHash = cred.PasswordHash
	return s
}

type protocolKey struct{}

// WithProtocol returns ctx marked with the protocol name ("imap", "pop3",
// "submission", "web") that the login log lines carry.
func WithProtocol(ctx context.Context, protocol string) context.Context {
	return context.WithValue(ctx, protocolKey{}, protocol)
}

// Protocol returns the name set by WithProtocol, or "".
func Protocol(ctx context.Context) string {
	p, _ := ctx.Value(protocolKey{}).(string)
	return p
}

// normalizeUsername lower-cases an address; store addresses are lower-case.
func normalizeUsername(username string) string {
	// The account lookup forgives a trailing dot of the domain; the
	// throttle must count such a name as the account it logs in as.
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(username)), ".")
}

// Login implements Authenticator. A throttled source or account gets
// ErrThrottled without its password being checked. Otherwise the password is
// always run through argon2id, against a dummy hash when the account is
// unknown or has no password, so an unknown user, a wrong password and a
// disabled account take the same time and all give ErrFailed. A failure
// then waits a delay growing with the failures counted.
func (s *Service) Login(ctx context.Context, remote netip.Addr, username, password string) (store.Account, error) {
	user := normalizeUsername(username)
	src := sourceOf(remote)
	log := s.logger.With("protocol", Protocol(ctx), "remote", remote.String(), "user", clip(user))
	if s.thr.blocked(s.opts.Now(), src, user) {
		log.Warn("auth throttled")
		return store.Account{}, ErrThrottled
	}
	acct, known, err := s.lookup(ctx, user)
	if err != nil {
		log.Error("auth error", "err", err)
		return store.Account{}, err
	}
	var found *store.Account
	if known {
		found = &acct
	}
	// Asked for unknown names too (id 0 has none), so they cost the same.
	apps, err := s.dir.AppPasswords(ctx, acct.ID)
	if err != nil {
		log.Error("auth error", "err", err)
		return store.Account{}, fmt.Errorf("auth: listing app passwords: %w", err)
	}
	reason, failures, app, err := s.check(ctx, src, user, found, apps, password)
	switch {
	case errors.Is(err, ErrThrottled):
		log.Warn("auth throttled")
		return store.Account{}, err
	case err != nil:
		return store.Account{}, err
	case reason != "":
		return store.Account{}, s.failed(ctx, log, failures, reason)
	}
	s.thr.succeed(src, user)
	s.loggedIn(ctx, acct)
	if app != nil {
		s.usedAppPassword(ctx, log, app)
		return acct, nil
	}
	log.Info("auth ok")
	s.rehash(ctx, log, acct, password)
	return acct, nil
}

// loggedIn tells OnLogin of a successful login: every protocol's
// account logins pass here, password, app password or SCRAM.
func (s *Service) loggedIn(ctx context.Context, acct store.Account) {
	if s.opts.OnLogin != nil {
		s.opts.OnLogin(acct.ID, Protocol(ctx))
	}
}

// rehash stores the account's password hashed with the current argon2id
// parameters when its hash was made with others (NeedsRehash): the only
// moment the password is known. A failure is logged; the login stands.
func (s *Service) rehash(ctx context.Context, log *slog.Logger, acct store.Account, password string) {
	if !NeedsRehash(acct.PasswordHash) {
		return
	}
	fresh, err := HashPassword(password)
	if err != nil {
		log.Warn("password rehash failed", "err", err)
		return
	}
	done, err := s.dir.RehashPassword(ctx, acct.ID, acct.PasswordHash, fresh.PasswordHash)
	switch {
	case err != nil:
		log.Warn("password rehash failed", "err", err)
	case done:
		log.Info("password rehashed with the current parameters")
	}
}

// usedAppPassword logs a login made with app, and records when it was used.
func (s *Service) usedAppPassword(ctx context.Context, log *slog.Logger, app *store.AppPassword) {
	log.Info("auth ok", "app_password", app.Name)
	if err := s.dir.TouchAppPassword(ctx, app.ID, s.opts.Now()); err != nil {
		log.Warn("recording app password use", "err", err)
	}
}

// check verifies password against acct (nil when unknown) under the
// semaphore, so that a login flood queues instead of allocating 19 MiB per
// concurrent attempt. It returns why the login fails ("" when it succeeds)
// and the failure count, and the app password used, if one matched. The
// account password is always run through argon2id and every app password
// compared, whichever matches. The throttle is asked again once a slot is held,
// and a failure is counted before the slot is released, so that guesses
// sent in parallel cannot overshoot the limits by more than MaxConcurrent-1.
func (s *Service) check(ctx context.Context, src netip.Prefix, user string, acct *store.Account,
	apps []store.AppPassword, password string) (reason string, failures int, app *store.AppPassword, err error) {
	hash := s.dummyHash
	if acct != nil && acct.PasswordHash != "" {
		hash = acct.PasswordHash
	}
	tooLong := len(password) > maxPasswordBytes
	if tooLong {
		password = password[:maxPasswordBytes]
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", 0, nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	now := s.opts.Now()
	if s.thr.blocked(now, src, user) {
		return "", 0, nil, ErrThrottled
	}
	ok, verr := s.verify(hash, password)
	if !tooLong {
		app = matchAppPassword(apps, password)
	}
	switch {
	case acct == nil:
		reason, app = "unknown user", nil
	case app != nil && acct.Disabled:
		reason, app = "account disabled", nil
	case app != nil:
	case acct.PasswordHash == "":
		reason = "no password set"
	case verr != nil:
		reason = "unusable stored hash: " + verr.Error()
	case !ok || tooLong:
		reason = "wrong password"
	case acct.Disabled:
		reason = "account disabled"
	}
	if reason != "" {
		failures = s.thr.fail(now, src, user)
	}
	return reason, failures, app, nil
}

// lookup finds the account; known is false for unknown and over-long names.
// Other errors (the database is down) are returned, not counted as failures.
func (s *Service) lookup(ctx context.Context, user string) (acct store.Account, known bool, err error) {
	if user == "" || len(user) > maxUsernameBytes {
		return store.Account{}, false, nil
	}
	acct, err = s.dir.Account(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, false, nil
	}
	if err != nil {
		return store.Account{}, false, fmt.Errorf("auth: looking up account: %w", err)
	}
	return acct, true, nil
}

// failed logs a counted failure with its reason (for the administrator;
// the client only ever sees ErrFailed) and waits the delay.
func (s *Service) failed(ctx context.Context, log *slog.Logger, n int, reason string) error {
	log.Info("auth failed", "reason", reason, "failures", n)
	if s.opts.OnFailure != nil {
		s.opts.OnFailure()
	}
	if d := s.delay(n); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return ErrFailed
}

// delay doubles with the account's failures in the window, up to
// MaxDelay: a guesser spread over many sources is slowed down without the
// account being locked for its owner.
func (s *Service) delay(failures int) time.Duration {
	if s.opts.FailureDelay <= 0 || failures <= 0 {
		return 0
	}
	d := s.opts.FailureDelay << min(failures-1, 20)
	if s.opts.MaxDelay > 0 && d > s.opts.MaxDelay {
		d = s.opts.MaxDelay
	}
	return d
}

// clip bounds a user-supplied name before it goes into a log line.
func clip(s string) string {
	if len(s) > maxUsernameBytes {
		return s[:maxUsernameBytes] + "..."
	}
	return s
}

// fakeSCRAM returns SCRAM keys for a name without usable keys. They are
// derived from the service's secret and the name, so asking twice gives the
// same salt, as it would for a real account, and no proof can match them
// without a preimage of StoredKey.
func (s *Service) fakeSCRAM(user string) SCRAMKeys {
	mac := func(label string) []byte {
		m := hmac.New(sha256.New, s.secret)
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(user))
		return m.Sum(nil)
	}
	return SCRAMKeys{
		Iterations: scramIterations,
		Salt:       mac("salt")[:scramSaltLen],
		StoredKey:  mac("stored"),
		ServerKey:  mac("server"),
	}
}

// SCRAMCredentials is the credential lookup of a SCRAM-SHA-256 login (use it
// inside a scram.CredentialLookup); SCRAMResult must follow once the
// client's proof has been checked. It returns ErrThrottled like Login, and
// then the login ends there, without SCRAMResult. An
// unknown or disabled account, or one without SCRAM keys, gets fake keys
// that no proof matches, so the exchange fails at the same step as a wrong
// password and does not reveal which names exist (RFC 5802 §9 lets a server
// hide this instead of sending e=unknown-user).
func (s *Service) SCRAMCredentials(ctx context.Context, remote netip.Addr, username string) (SCRAMKeys, error) {
	user := normalizeUsername(username)
	if s.thr.blocked(s.opts.Now(), sourceOf(remote), user) {
		s.logger.Warn("auth throttled", "protocol", Protocol(ctx), "remote", remote.String(),
			"user", clip(user), "mech", "SCRAM-SHA-256")
		return SCRAMKeys{}, ErrThrottled
	}
	acct, known, err := s.lookup(ctx, user)
	if err != nil {
		return SCRAMKeys{}, err
	}
	if !known || acct.Disabled || acct.SCRAMSHA256 == "" {
		return s.fakeSCRAM(user), nil
	}
	keys, err := ParseSCRAM(acct.SCRAMSHA256)
	if err != nil {
		s.logger.Error("auth stored SCRAM keys unusable", "user", user, "err", err)
		return s.fakeSCRAM(user), nil
	}
	return keys, nil
}

// SCRAMResult ends a SCRAM-SHA-256 login whose client proof did (valid) or
// did not verify: it counts and logs the outcome like Login and returns the
// account, or ErrFailed after the failure delay. Call it before sending the
// server-final message, and send that only when it returns nil: a valid
// proof made while the throttle is closed (guesses sent in parallel) gets
// ErrThrottled, so it confirms nothing to a guesser.
func (s *Service) SCRAMResult(ctx context.Context, remote netip.Addr, username string, valid bool) (store.Account, error) {
	return s.scramResult(ctx, remote, username, valid, nil)
}

// scramResult is SCRAMResult, with app the app password whose keys verified.
func (s *Service) scramResult(ctx context.Context, remote netip.Addr, username string, valid bool, app *store.AppPassword) (store.Account, error) {
	user := normalizeUsername(username)
	src := sourceOf(remote)
	log := s.logger.With("protocol", Protocol(ctx), "remote", remote.String(),
		"user", clip(user), "mech", "SCRAM-SHA-256")
	now := s.opts.Now()
	if !valid {
		return store.Account{}, s.failed(ctx, log, s.thr.fail(now, src, user), "proof did not verify")
	}
	if s.thr.blocked(now, src, user) {
		log.Warn("auth throttled")
		return store.Account{}, ErrThrottled
	}
	// Only real keys can verify, but the account may have been disabled or
	// deleted since the lookup.
	acct, known, err := s.lookup(ctx, user)
	if err != nil {
		log.Error("auth error", "err", err)
		return store.Account{}, err
	}
	if !known || acct.Disabled {
		return store.Account{}, s.failed(ctx, log, s.thr.fail(now, src, user), "account disabled or gone")
	}
	s.thr.succeed(src, user)
	s.loggedIn(ctx, acct)
	if app != nil {
		s.usedAppPassword(ctx, log, app)
		return acct, nil
	}
	log.Info("auth ok")
	return acct, nil
}

// Throttled lists the sources, and the accounts tried from a source, that
// get ErrThrottled now.
func (s *Service) Throttled() []ThrottledKey { return s.thr.throttled(s.opts.Now()) }

// Unblock forgets the failures of an IP address (its source network) or
// of an account name, and returns how many throttle keys it cleared.
func (s *Service) Unblock(target string) int { return s.thr.unblock(target) }
