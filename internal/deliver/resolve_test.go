package deliver

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

func TestResolve(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []string{"example.test", "other.test"} {
		if _, err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"alice@example.test", "bob@example.test", "carol@other.test"} {
		if _, err := st.AddAccount(ctx, a, store.Credentials{}); err != nil {
			t.Fatal(err)
		}
	}
	aliases := map[string][]string{
		"team@example.test":    {"alice@example.test", "bob+work@example.test", "alice@example.test"},
		"fwd@example.test":     {"someone@remote.test", "alice@example.test", "SOMEONE@remote.test"},
		"chain@example.test":   {"fwd@example.test", "carol@other.test"},
		"loop1@example.test":   {"loop2@example.test"},
		"loop2@example.test":   {"loop1@example.test"},
		"self@example.test":    {"self@example.test"},
		"ring1@example.test":   {"ring2@example.test", "alice@example.test"},
		"ring2@example.test":   {"ring1@example.test", "bob@example.test"},
		"diamond@example.test": {"team@example.test", "fwd@example.test"},
		"dead@example.test":    {"nobody@example.test"},
		"remote@example.test":  {"x@remote.test"},
	}
	for src, dst := range aliases {
		if err := st.AddAlias(ctx, src, dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetCatchAll(ctx, "other.test", "carol@other.test"); err != nil {
		t.Fatal(err)
	}
	d := New(Options{Directory: st, Mailstore: st, Logger: slog.New(slog.DiscardHandler)})
	names := func(r Resolution) []string {
		var out []string
		for _, a := range r.Accounts {
			out = append(out, a.Address)
		}
		return out
	}
	cases := []struct {
		addr     string
		accounts []string
		remote   []string
		loop     bool
		err      error
	}{
		{addr: "Alice@Example.TEST", accounts: []string{"alice@example.test"}},
		{addr: "alice+news@example.test", accounts: []string{"alice@example.test"}},
		{addr: "team@example.test", accounts: []string{"alice@example.test", "bob@example.test"}},
		{addr: "fwd@example.test", accounts: []string{"alice@example.test"}, remote: []string{"someone@remote.test"}},
		{addr: "chain@example.test", accounts: []string{"alice@example.test", "carol@other.test"}, remote: []string{"someone@remote.test"}},
		{addr: "remote@example.test", remote: []string{"x@remote.test"}},
		{addr: "anything@other.test", accounts: []string{"carol@other.test"}},
		{addr: "nobody@example.test", err: ErrUnknownUser},
		{addr: "dead@example.test", err: ErrUnknownUser},
		{addr: "loop1@example.test", err: ErrAliasLoop},
		{addr: "self@example.test", err: ErrAliasLoop},
		// A loop that also reaches accounts delivers to them.
		{addr: "ring1@example.test", accounts: []string{"bob@example.test", "alice@example.test"}, loop: true},
		// Reaching an alias twice by two branches is no loop.
		{addr: "diamond@example.test", accounts: []string{"alice@example.test", "bob@example.test"}, remote: []string{"someone@remote.test"}},
		{addr: "x@remote.test", err: ErrNotLocal},
		{addr: "x@[127.0.0.1]", err: ErrNotLocal},
	}
	for _, c := range cases {
		a, err := ParseAddress(c.addr)
		if err != nil {
			t.Fatalf("%s: %v", c.addr, err)
		}
		r, err := d.Resolve(ctx, a)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err %v, want %v", c.addr, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(names(r), c.accounts) || !slices.Equal(r.Remote, c.remote) || r.Loop != c.loop {
			t.Errorf("%s: accounts %v remote %v err %v; want %v %v", c.addr, names(r), r.Remote, err, c.accounts, c.remote)
		}
	}
}

// Every domain takes postmaster@ and abuse@ (RFC 5321 §4.5.1): the
// address the administrator set, else the oldest account; an account or
// alias of that name comes first.
func TestResolvePostmaster(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.AddDomain(ctx, "example.test")
	st.AddDomain(ctx, "empty.test")
	alice, _ := st.AddAccount(ctx, "alice@example.test", store.Credentials{})
	bob, _ := st.AddAccount(ctx, "bob@example.test", store.Credentials{})
	log := slog.New(slog.DiscardHandler)
	resolve := func(a string) (Resolution, error) {
		addr, err := ParseAddress(a)
		if err != nil {
			t.Fatal(err)
		}
		return resolveAddr(ctx, st, log, addr)
	}
	for _, a := range []string{"postmaster@example.test", "PostMaster@Example.test", "abuse@example.test", "abuse+spam@example.test"} {
		if r, err := resolve(a); err != nil || len(r.Accounts) != 1 || r.Accounts[0].ID != alice.ID {
			t.Errorf("%s: %+v %v, want the oldest account", a, r, err)
		}
	}
	if _, err := resolve("postmaster@empty.test"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("postmaster of a domain without accounts: %v", err)
	}
	if err := st.SetPostmaster(ctx, "example.test", "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	if r, err := resolve("postmaster@example.test"); err != nil || len(r.Accounts) != 1 || r.Accounts[0].ID != bob.ID {
		t.Errorf("postmaster set to bob: %+v %v", r, err)
	}
	st.SetPostmaster(ctx, "example.test", "admin@elsewhere.test")
	if r, err := resolve("abuse@example.test"); err != nil || len(r.Remote) != 1 || r.Remote[0] != "admin@elsewhere.test" {
		t.Errorf("remote postmaster: %+v %v", r, err)
	}
	if err := st.AddAlias(ctx, "abuse@example.test", []string{"alice@example.test"}); err != nil {
		t.Fatal(err)
	}
	if r, err := resolve("abuse@example.test"); err != nil || len(r.Accounts) != 1 || r.Accounts[0].ID != alice.ID || len(r.Remote) != 0 {
		t.Errorf("an abuse alias comes first: %+v %v", r, err)
	}
}
