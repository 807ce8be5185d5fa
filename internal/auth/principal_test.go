package auth

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// principals is a lookup of one administrator, "root", whose second factor
// passes when ok is true.
func principals(t *testing.T, secondOK *bool) PrincipalLookup {
	cred, err := HashPassword("root's password")
	if err != nil {
		t.Fatal(err)
	}
	return func(_ context.Context, name string) (Principal, error) {
		if name != "root" {
			return Principal{}, nil
		}
		p := Principal{Found: true, PasswordHash: cred.PasswordHash}
		if secondOK != nil {
			p.SecondFactor = func() bool { return *secondOK }
		}
		return p, nil
	}
}

func (f *fixture) loginAdmin(remote netip.Addr, name, pw string, lookup PrincipalLookup) error {
	return f.svc.LoginPrincipal(WithProtocol(context.Background(), "admin"), remote, "admin", name, pw, lookup)
}

func TestLoginPrincipal(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 100, MaxFailuresPerAccount: 3, Window: time.Minute})
	second := true
	lookup := principals(t, &second)
	if err := f.loginAdmin(ipA, " ROOT ", "root's password", lookup); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, c := range []struct{ name, pw string }{{"root", "wrong"}, {"nobody", "root's password"}, {"", "x"}} {
		f.drain()
		if err := f.loginAdmin(ipB, c.name, c.pw, lookup); !errors.Is(err, ErrFailed) {
			t.Errorf("%q/%q: %v, want ErrFailed", c.name, c.pw, err)
		}
		if n := len(f.drain()); n != 1 {
			t.Errorf("%q: %d argon2id verifications, want 1 (unknown names cost the same)", c.name, n)
		}
	}
	second = false
	if err := f.loginAdmin(ipA, "root", "root's password", lookup); !errors.Is(err, ErrFailed) {
		t.Errorf("wrong second factor: %v, want ErrFailed", err)
	}
	// An account of the same name is another principal: its failures do
	// not count against the administrator, nor the reverse.
	for range 3 {
		_ = f.login(ipC, "root", "guess")
	}
	second = true
	if err := f.loginAdmin(ipC, "root", "root's password", lookup); err != nil {
		t.Errorf("admin login after failures of the account name: %v", err)
	}
	for range 3 {
		_ = f.loginAdmin(ipC, "root", "guess", lookup)
	}
	if err := f.loginAdmin(ipC, "root", "root's password", lookup); !errors.Is(err, ErrThrottled) {
		t.Errorf("4th admin attempt from C: %v, want ErrThrottled", err)
	}
	lookupErr := errors.New("database down")
	if err := f.loginAdmin(ipA, "root", "x", func(context.Context, string) (Principal, error) {
		return Principal{}, lookupErr
	}); !errors.Is(err, lookupErr) {
		t.Errorf("lookup error: %v", err)
	}
}

func TestLoginPrincipalSharesThePerIPLimit(t *testing.T) {
	f := newFixture(t, Options{MaxFailuresPerIP: 3, MaxFailuresPerAccount: -1, Window: time.Minute})
	lookup := principals(t, nil)
	_ = f.login(ipA, "alice@example.org", "guess")
	_ = f.login(ipA, "bob@example.org", "guess")
	_ = f.loginAdmin(ipA, "root", "guess", lookup)
	if err := f.loginAdmin(ipA, "root", "root's password", lookup); !errors.Is(err, ErrThrottled) {
		t.Errorf("admin login after the source's limit: %v, want ErrThrottled", err)
	}
	if err := f.login(ipA, "alice@example.org", alicePW); !errors.Is(err, ErrThrottled) {
		t.Errorf("account login after admin failures: %v, want ErrThrottled", err)
	}
}
