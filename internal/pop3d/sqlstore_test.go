package pop3d

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/blob"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// TestWithSQLStore runs a session against the real SQLite store, blob
// store and auth service, as the binary does.
func TestWithSQLStore(t *testing.T) {
	ctx := context.Background()
	bodies := []string{
		"Subject: 1\r\n\r\nfirst\r\n",
		"Subject: 2\r\n\r\n.dotted\r\nsecond\r\n",
		"Subject: 3\r\n\r\nthird\r\n",
	}
	st, acct := openSQLStore(t, "carol@example.org", "correct horse", bodies)

	logs := &syncBuffer{}
	cfg := Config{
		Hostname:       "pop.test",
		Auth:           auth.New(st, auth.Options{}, nil),
		Store:          st,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
		AllowPlaintext: func(net.Addr) bool { return true },
	}
	e := startWith(t, cfg, nil, logs, false)
	c := e.dial()
	c.expectOK(c.cmd("USER carol@example.org"))
	if got := c.cmd("PASS wrong"); got != "-ERR [AUTH] Authentication failed" {
		t.Fatalf("wrong password = %q", got)
	}
	c.login("Carol@Example.org", "correct horse")
	total := 0
	for _, b := range bodies {
		total += len(b)
	}
	if got, want := c.cmd("STAT"), fmt.Sprintf("+OK 3 %d", total); got != want {
		t.Fatalf("STAT = %q, want %q", got, want)
	}
	c.expectOK(c.cmd("UIDL"))
	uidls := c.lines()
	c.expectOK(c.cmd("RETR 2"))
	if got, want := c.rawBody(), strings.Replace(bodies[1], ".dotted", "..dotted", 1); got != want {
		t.Fatalf("RETR 2 = %q, want %q", got, want)
	}
	c.expectOK(c.cmd("DELE 1"))
	c.expectOK(c.cmd("QUIT"))
	c.expectClosed()
	e.waitUnlocked(acct.ID)

	c = e.dial()
	c.login("carol@example.org", "correct horse")
	if got := c.cmd("STAT"); !strings.HasPrefix(got, "+OK 2 ") {
		t.Fatalf("STAT after DELE+QUIT = %q", got)
	}
	c.expectOK(c.cmd("UIDL"))
	after := c.lines()
	// Unique-ids survive the expunge; only the numbering moves.
	for i, l := range after {
		_, id, _ := strings.Cut(l, " ")
		_, old, _ := strings.Cut(uidls[i+1], " ")
		if id != old {
			t.Errorf("UIDL changed: %q, was %q", l, uidls[i+1])
		}
	}
	mb, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, mb.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Flags&store.FlagSeen == 0 || msgs[1].Flags&store.FlagSeen != 0 {
		t.Fatalf("after QUIT: %+v", msgs)
	}
}

// openSQLStore opens a fresh SQLite store with one account whose INBOX
// holds bodies.
func openSQLStore(t *testing.T, address, password string, bodies []string) (*sqlstore.Store, store.Account) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(dir, "meta.db"), Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, domain, _ := strings.Cut(address, "@")
	if _, err := st.AddDomain(ctx, domain); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, address, cred)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		deliverTo(t, st, blobs, acct.ID, b)
	}
	return st, acct
}

func deliverTo(t *testing.T, st *sqlstore.Store, blobs *blob.Store, accountID int64, body string) {
	t.Helper()
	out, err := st.Deliver(context.Background(), store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(body)}, InternalDate: time.Now(),
		Targets: []store.DeliveryTarget{{AccountID: accountID}}})
	if err != nil || out.Targets[0].Err != nil {
		t.Fatalf("Deliver: %v %+v", err, out)
	}
}
