package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"postern/internal/store"
)

// fakeDir is an in-memory Directory.
type fakeDir struct {
	mu       sync.Mutex
	accounts map[string]store.Account
	err      error // returned for every lookup when set
	apps     map[int64][]store.AppPassword
	touched  []int64
}

func (d *fakeDir) AppPasswords(_ context.Context, id int64) ([]store.AppPassword, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]store.AppPassword(nil), d.apps[id]...), nil
}

func (d *fakeDir) TouchAppPassword(_ context.Context, id int64, _ time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.touched = append(d.touched, id)
	return nil
}

func (d *fakeDir) RehashPassword(_ context.Context, id int64, oldHash, newHash string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for addr, a := range d.accounts {
		if a.ID == id && a.PasswordHash == oldHash {
			a.PasswordHash = newHash
			d.accounts[addr] = a
			return true, nil
		}
	}
	return false, nil
}

func (d *fakeDir) Account(_ context.Context, address string) (store.Account, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return store.Account{}, d.err
	}
	a, ok := d.accounts[address]
	if !ok {
		return store.Account{}, store.ErrNotFound
	}
	return a, nil
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	svc   *Service
	dir   *fakeDir
	clock *fakeClock
	logs  *syncBuffer
	// verified lists the hashes verify was called with.
	verified chan string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Passwords of the fixture's accounts; carol (disabled) shares alice's.
var (
	alicePW = "alice's password"
	bobPW   = "bob's password"
)

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	ac, err := HashPassword(alicePW)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := HashPassword(bobPW)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		dir: &fakeDir{accounts: map[string]store.Account{
			"alice@example.org": {ID: 1, Address: "alice@example.org", Credentials: ac},
			"bob@example.org":   {ID: 2, Address: "bob@example.org", Credentials: bc},
			"carol@example.org": {ID: 3, Address: "carol@example.org", Credentials: ac, Disabled: true},
			"dave@example.org":  {ID: 4, Address: "dave@example.org"},
		}},
		clock:    &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		logs:     &syncBuffer{},
		verified: make(chan string, 1000),
	}
	if opts.FailureDelay == 0 {
		opts.FailureDelay = -1
	}
	opts.Now = f.clock.Now
	f.svc = New(f.dir, opts, slog.New(slog.NewTextHandler(f.logs, nil)))
	f.svc.verify = func(hash, pw string) (bool, error) {
		f.verified <- hash
		return CheckPassword(hash, pw)
	}
	return f
}

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
	ipC = netip.MustParseAddr("198.51.100.7")
)

func (f *fixture) login(remote netip.Addr, user, pw string) error {
	_, err := f.svc.Login(WithProtocol(context.Background(), "imap"), remote, user, pw)
	return err
}

// drain returns the hashes verified since the last call.
func (f *fixture) drain() []string {
	var out []string
	for {
		select {
		case h := <-f.verified:
			out = append(out, h)
		default:
			return out
		}
	}
}

func TestLoginOK(t *testing.T) {
	f := newFixture(t, Options{})
	acct, err := f.svc.Login(WithProtocol(context.Background(), "pop3"), ipA, "Alice@Example.ORG", alicePW)
	if err != nil || acct.ID != 1 {
		t.Fatalf("Login = %+v, %v", acct, err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `msg="auth ok"`) || !strings.Contains(logs, "protocol=pop3") ||
		!strings.Contains(logs, "user=alice@example.org") || !strings.Contains(logs, "remote=192.0.2.1") {
		t.Fatalf("log line missing fields: %s", logs)
	}
	if strings.Contains(logs, alicePW) {
		t.Fatal("password in the log")
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: -1})
	f.drain()
	cases := []struct{ user, pw, reason string }{
		{"alice@example.org", "wrong password!", "wrong password"},
		{"nobody@example.org", "wrong password!", "unknown user"},
		{"carol@example.org", alicePW, "account disabled"},
		{"dave@example.org", "whatever password", "no password set"},
		{strings.Repeat("x", 400), "whatever", "unknown user"},
		{"alice@example.org", alicePW + strings.Repeat("x", 2000), "wrong password"},
	}
	for _, c := range cases {
		acct, err := f.svc.Login(context.Background(), ipA, c.user, c.pw)
		if !errors.Is(err, ErrFailed) || acct.ID != 0 {
			t.Errorf("%s: Login = %+v, %v; want ErrFailed", c.reason, acct, err)
		}
		// Every failure ran exactly one argon2id verification, with the
		// same parameters whether the hash was real or the dummy.
		hashes := f.drain()
		if len(hashes) != 1 {
			t.Fatalf("%s: %d verifications, want 1", c.reason, len(hashes))
		}
		if got, want := phcParams(hashes[0]), phcParams(f.dir.accounts["alice@example.org"].PasswordHash); got != want {
			t.Errorf("%s: verified with %q, real hashes use %q", c.reason, got, want)
		}
		if !strings.Contains(f.logs.String(), `reason="`+c.reason+`"`) {
			t.Errorf("%s: not logged with its reason", c.reason)
		}
	}
	if strings.Contains(f.logs.String(), "wrong password!") {
		t.Fatal("password in the log")
	}
}

// phcParams returns the algorithm and cost part of a PHC string.
func phcParams(h string) string {
	parts := strings.Split(h, "$")
	if len(parts) < 4 {
		return h
	}
	return strings.Join(parts[1:4], "$")
}

func TestThrottlePerIP(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 3, MaxFailuresPerAccount: -1, Window: time.Minute})
	for _, u := range []string{"alice@example.org", "bob@example.org", "nobody@example.org"} {
		if err := f.login(ipA, u, "guess guess"); !errors.Is(err, ErrFailed) {
			t.Fatalf("failure %s: %v", u, err)
		}
	}
	f.drain()
	// Limit reached: even the right password is refused, unchecked.
	if err := f.login(ipA, "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("4th attempt from A: %v, want ErrThrottled", err)
	}
	if n := len(f.drain()); n != 0 {
		t.Fatalf("throttled attempt ran %d verifications", n)
	}
	// IPv4-mapped IPv6 is the same source.
	if err := f.login(netip.AddrFrom16(ipA.As16()), "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("mapped A: %v, want ErrThrottled", err)
	}
	if err := f.login(ipB, "alice@example.org", alicePW); err != nil {
		t.Fatalf("other IP: %v", err)
	}
	if !strings.Contains(f.logs.String(), `msg="auth throttled"`) {
		t.Fatal("throttling not logged")
	}
	// The window slides: after it, A may try again.
	f.clock.Advance(time.Minute + time.Second)
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestThrottleIPv6Prefix(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 2, MaxFailuresPerAccount: -1})
	_ = f.login(netip.MustParseAddr("2001:db8:1:2::1"), "bob@example.org", "guess guess")
	_ = f.login(netip.MustParseAddr("2001:db8:1:2::ffff"), "bob@example.org", "guess guess")
	if err := f.login(netip.MustParseAddr("2001:db8:1:2:aaaa::3"), "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("same /64: %v, want ErrThrottled", err)
	}
	if err := f.login(netip.MustParseAddr("2001:db8:1:3::1"), "alice@example.org", alicePW); err != nil {
		t.Fatalf("other /64: %v", err)
	}
}

func TestThrottlePerAccount(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: 2, Window: time.Minute, FailureDelay: -1})
	_ = f.login(ipA, "alice@example.org", "guess one")
	// A trailing dot names the same account, and counts for it.
	_ = f.login(ipA, "ALICE@example.org.", "guess two")
	if err := f.login(ipA, "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("alice from the guessing IP: %v, want ErrThrottled", err)
	}
	// The guesser does not lock the owner out: alice from elsewhere is
	// let in (issue 13), and bob from the same IP too.
	if err := f.login(ipC, "alice@example.org", alicePW); err != nil {
		t.Fatalf("alice from another IP: %v", err)
	}
	if err := f.login(ipA, "bob@example.org", bobPW); err != nil {
		t.Fatalf("bob: %v", err)
	}
	// Unknown names are throttled just the same, so throttling reveals nothing.
	_ = f.login(ipA, "nobody@example.org", "guess one")
	_ = f.login(ipA, "nobody@example.org", "guess two")
	if err := f.login(ipA, "nobody@example.org", "x"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("unknown name: %v, want ErrThrottled", err)
	}
	f.clock.Advance(2 * time.Minute)
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestAccountFailuresSlowDown: failures of one account from many sources
// lock nobody out but make each further failure wait longer.
func TestAccountFailuresSlowDown(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: 2, FailureDelay: time.Millisecond, MaxDelay: time.Hour})
	var failures int
	for i := range 4 {
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		failures = f.svc.thr.fail(f.clock.Now(), sourceOf(src), "alice@example.org")
	}
	if failures != 4 || f.svc.delay(failures) != 8*time.Millisecond {
		t.Errorf("after 4 failures from 4 sources: count %d, delay %v", failures, f.svc.delay(failures))
	}
	if err := f.login(ipC, "alice@example.org", alicePW); err != nil {
		t.Fatalf("the owner after a spread-out guess: %v", err)
	}
}

func TestSuccessForgetsOwnFailuresOnly(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: 2, FailureDelay: -1})
	_ = f.login(ipA, "alice@example.org", "typo typo")
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatal(err)
	}
	// A's typo is forgotten: one more failure from A is not enough.
	_ = f.login(ipA, "alice@example.org", "typo again")
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatalf("after own typo: %v", err)
	}
	// A guesser elsewhere keeps their count despite the owner's logins.
	_ = f.login(ipB, "alice@example.org", "guess one")
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatal(err)
	}
	_ = f.login(ipB, "alice@example.org", "guess two")
	if err := f.login(ipB, "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("B's two guesses: %v, want ErrThrottled", err)
	}
}

func TestLoopbackThrottledByDefault(t *testing.T) {
	f := newFixture(t, Options{})
	lo := netip.MustParseAddr("127.0.0.1")
	for range 5 {
		_ = f.login(lo, "bob@example.org", "guess guess")
	}
	if err := f.login(lo, "bob@example.org", bobPW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("loopback after 5 failures: %v, want ErrThrottled", err)
	}
}

func TestLookupErrorIsNotAFailure(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 1})
	dbDown := errors.New("database is locked")
	f.dir.err = dbDown
	err := f.login(ipA, "alice@example.org", alicePW)
	if !errors.Is(err, dbDown) || errors.Is(err, ErrFailed) {
		t.Fatalf("Login = %v, want the lookup error", err)
	}
	f.dir.err = nil
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatalf("lookup error was counted: %v", err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: -1, MaxConcurrent: 2})
	var cur, peak atomic.Int32
	release := make(chan struct{})
	f.svc.verify = func(hash, pw string) (bool, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		cur.Add(-1)
		return hash != "", nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = f.login(ipA, "alice@example.org", alicePW) })
	}
	// Wait until two verifications are running, then let all finish.
	for cur.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrent verifications %d, want 2", p)
	}
}

func TestParallelGuessesDoNotOvershoot(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 2, MaxFailuresPerAccount: -1, MaxConcurrent: 1})
	f.drain()
	var wg sync.WaitGroup
	var throttled atomic.Int32
	for range 10 {
		wg.Go(func() {
			if errors.Is(f.login(ipA, "alice@example.org", "parallel guess"), ErrThrottled) {
				throttled.Add(1)
			}
		})
	}
	wg.Wait()
	// Each attempt saw the throttle after every earlier one was counted.
	if n := len(f.drain()); n != 2 {
		t.Fatalf("%d passwords checked, want 2", n)
	}
	if n := throttled.Load(); n != 8 {
		t.Fatalf("%d attempts throttled, want 8", n)
	}
}

func TestConcurrencyWaitHonoursContext(t *testing.T) {
	f := newFixture(t, Options{MaxConcurrent: 1})
	f.svc.sem <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.svc.Login(ctx, ipA, "alice@example.org", alicePW); !errors.Is(err, context.Canceled) {
		t.Fatalf("Login = %v, want context.Canceled", err)
	}
}

func TestDelayGrowsAndIsCapped(t *testing.T) {
	s := &Service{opts: Options{FailureDelay: 100 * time.Millisecond, MaxDelay: 350 * time.Millisecond}}
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 350 * time.Millisecond, 350 * time.Millisecond, 350 * time.Millisecond}
	for n, w := range want {
		if got := s.delay(n); got != w {
			t.Errorf("delay(%d) = %v, want %v", n, got, w)
		}
	}
	s.opts.FailureDelay = -1
	if got := s.delay(3); got != 0 {
		t.Errorf("disabled delay(3) = %v", got)
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	now := time.Now()
	th := newThrottle(5, 5, time.Hour, 100)
	var b [4]byte
	for i := range 10000 {
		b[2], b[3] = byte(i>>8), byte(i)
		src := sourceOf(netip.AddrFrom4(b))
		th.fail(now, src, "user"+string(rune('a'+i%26))+string(b[:]))
		if ips, accts := th.tracked(); ips > 100 || accts > 100 {
			t.Fatalf("after %d failures: %d sources, %d names tracked, cap 100", i+1, ips, accts)
		}
	}
	// Expired entries go first when room is needed.
	th2 := newThrottle(5, 5, time.Minute, 10)
	for i := range 10 {
		th2.fail(now, sourceOf(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})), "x")
	}
	fresh := sourceOf(netip.AddrFrom4([4]byte{10, 0, 1, 1}))
	th2.fail(now.Add(2*time.Minute), fresh, "y")
	if ips, _ := th2.tracked(); ips != 1 {
		t.Fatalf("%d sources tracked after expiry, want 1", ips)
	}
}

func TestSCRAMThroughService(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: 2})
	ctx := WithProtocol(context.Background(), "submission")
	run := func(remote netip.Addr, user, pw string) (store.Account, error) {
		lookup := func(u string) (scram.StoredCredentials, error) {
			k, err := f.svc.SCRAMCredentials(ctx, remote, u)
			return k.Credentials(), err
		}
		valid, _ := scramLogin(t, lookup, user, pw)
		return f.svc.SCRAMResult(ctx, remote, user, valid)
	}
	if acct, err := run(ipA, "alice@example.org", alicePW); err != nil || acct.ID != 1 {
		t.Fatalf("right password: %+v, %v", acct, err)
	}
	for _, c := range []struct{ user, pw string }{
		{"bob@example.org", "wrong"},
		{"nobody@example.org", "anything"},
		{"carol@example.org", alicePW}, // disabled, right password
	} {
		if _, err := run(ipA, c.user, c.pw); !errors.Is(err, ErrFailed) {
			t.Errorf("%s: %v, want ErrFailed", c.user, err)
		}
	}
	// Fake keys for unknown names are stable, like real ones.
	k1, _ := f.svc.SCRAMCredentials(ctx, ipB, "nobody@example.org")
	k2, _ := f.svc.SCRAMCredentials(ctx, ipC, "nobody@example.org")
	if !bytes.Equal(k1.Salt, k2.Salt) || k1.Iterations != scramIterations {
		t.Fatal("fake SCRAM salt changes between lookups")
	}
	// SCRAM failures count in the shared throttle.
	_, _ = run(ipA, "bob@example.org", "wrong again")
	if _, err := f.svc.SCRAMCredentials(ctx, ipA, "bob@example.org"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("bob after 2 SCRAM failures: %v, want ErrThrottled", err)
	}
	if err := f.login(ipA, "bob@example.org", bobPW); !errors.Is(err, ErrThrottled) {
		t.Fatalf("bob by PLAIN after SCRAM failures: %v, want ErrThrottled", err)
	}
	// A valid proof that raced past the lookup is not confirmed either.
	if _, err := f.svc.SCRAMResult(ctx, ipA, "bob@example.org", true); !errors.Is(err, ErrThrottled) {
		t.Fatalf("valid proof while throttled: %v, want ErrThrottled", err)
	}
}

func TestFakeSCRAMSecret(t *testing.T) {
	secret := []byte("kept on disk")
	a := New(&fakeDir{}, Options{FakeSCRAMSecret: secret}, nil)
	b := New(&fakeDir{}, Options{FakeSCRAMSecret: secret}, nil)
	c := New(&fakeDir{}, Options{}, nil)
	ka, err := a.SCRAMCredentials(context.Background(), ipA, "nobody@example.org")
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := b.SCRAMCredentials(context.Background(), ipA, "nobody@example.org")
	kc, _ := c.SCRAMCredentials(context.Background(), ipA, "nobody@example.org")
	if !bytes.Equal(ka.Salt, kb.Salt) {
		t.Fatal("same secret, different fake salts")
	}
	if bytes.Equal(ka.Salt, kc.Salt) {
		t.Fatal("random secret gave the configured secret's salt")
	}
}

// store.Directory must satisfy the Directory this package asks for.
var _ Directory = interface {
	store.Directory
	store.AppPasswords
}(nil)

func BenchmarkLogin(b *testing.B) {
	f := newFixture(b, Options{MaxFailuresPerIP: -1, MaxFailuresPerAccount: -1})
	f.svc.verify = CheckPassword
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.svc.Login(ctx, ipA, "alice@example.org", alicePW); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLoginRehashesOldParameters: a password hashed with other argon2id
// parameters is hashed again with the current ones at the next login, and
// still verifies; a wrong password changes nothing (issue 13).
func TestLoginRehashesOldParameters(t *testing.T) {
	f := newFixture(t, Options{})
	p := argonParams{memory: 64, time: 1, threads: 1, salt: []byte("0123456789abcdef")}
	p.key = idKey(alicePW, p)
	old := p.String()
	f.dir.mu.Lock()
	a := f.dir.accounts["alice@example.org"]
	a.PasswordHash = old
	f.dir.accounts["alice@example.org"] = a
	f.dir.mu.Unlock()
	current := func() string {
		f.dir.mu.Lock()
		defer f.dir.mu.Unlock()
		return f.dir.accounts["alice@example.org"].PasswordHash
	}
	if err := f.login(ipA, "alice@example.org", "wrong"); !errors.Is(err, ErrFailed) || current() != old {
		t.Fatalf("wrong password: %v, hash changed %v", err, current() != old)
	}
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatal(err)
	}
	if h := current(); h == old || NeedsRehash(h) {
		t.Fatalf("hash after login: %q", h)
	}
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Fatalf("login with the new hash: %v", err)
	}
}

// TestThrottledAndUnblock: the throttle lists what it refuses, and an
// administrator can lift a source or an account name.
func TestThrottledAndUnblock(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 3, MaxFailuresPerAccount: 2, Window: time.Minute})
	_ = f.login(ipA, "bob@example.org", "guess")
	_ = f.login(ipA, "bob@example.org", "guess")
	_ = f.login(ipA, "carol@example.org", "guess")
	got := f.svc.Throttled()
	if len(got) != 2 {
		t.Fatalf("Throttled: %+v", got)
	}
	if n := f.svc.Unblock("BOB@example.org"); n != 2 {
		t.Errorf("Unblock(bob) cleared %d", n)
	}
	if err := f.login(ipB, "bob@example.org", bobPW); err != nil {
		t.Errorf("bob after unblock: %v", err)
	}
	if err := f.login(ipA, "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Errorf("source A before unblock: %v", err)
	}
	if n := f.svc.Unblock("192.0.2.1"); n == 0 {
		t.Error("Unblock(ipA) cleared nothing")
	}
	if err := f.login(ipA, "alice@example.org", alicePW); err != nil {
		t.Errorf("source A after unblock: %v", err)
	}
}
