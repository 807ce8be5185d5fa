package imapd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/blob"
	"postern/internal/message"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// testAuth accepts the passwords in its map.
type testAuth struct {
	st    store.Directory
	users map[string]string
}

func (a *testAuth) Login(ctx context.Context, _ netip.Addr, user, pass string) (store.Account, error) {
	if p, ok := a.users[strings.ToLower(user)]; !ok || p != pass {
		return store.Account{}, auth.ErrFailed
	}
	return a.st.Account(ctx, strings.ToLower(user))
}

func parseMeta(r io.Reader) (store.MessageMeta, error) {
	p, err := message.Parse(r, message.DefaultLimits())
	if err != nil {
		return store.MessageMeta{}, err
	}
	return store.MessageMeta{
		Envelope:      p.Envelope.Marshal(),
		BodyStructure: p.Body.Marshal(),
		Preview:       p.Preview,
		SearchText:    p.SearchText,
		Headers:       p.Headers,
	}, nil
}

type testEnv struct {
	t     *testing.T
	st    *sqlstore.Store
	blobs *blob.Store
	srv   *Server
	addr  string
	acct  store.Account
}

const (
	testUser = "alice@example.org"
	testPass = "secret"
)

// newTestEnv starts a server with the real store on a loopback listener.
func newTestEnv(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(dir, "meta.db"), Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, testUser, store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Hostname:       "mail.example.org",
		AllowPlaintext: func(net.Addr) bool { return true },
		Auth:           &testAuth{st: st, users: map[string]string{testUser: testPass}},
		Store:          st,
		Parse:          parseMeta,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		AppendLimit:    1 << 20,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv := New(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	env := &testEnv{t: t, st: st, blobs: blobs, srv: srv, addr: l.Addr().String(), acct: acct}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	return env
}

// deliver puts a message into a mailbox of the test account, as the
// delivery agent would.
func (e *testEnv) deliver(mailbox, raw string) uint32 {
	e.t.Helper()
	meta, err := parseMeta(strings.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.st.Deliver(context.Background(), store.Delivery{Blob: store.NewBlob{Body: store.BytesBody(raw), Meta: meta},
		InternalDate: time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC), Targets: []store.DeliveryTarget{{AccountID: e.acct.ID, Mailbox: mailbox}}})
	if err != nil || out.Targets[0].Err != nil {
		e.t.Fatalf("deliver: %v %v", err, out)
	}
	return out.Targets[0].UID
}

// rawConn is a protocol transcript driver.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (e *testEnv) dial() *rawConn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: e.t, c: c, br: bufio.NewReader(c)}
	rc.expectPrefix("* OK")
	return rc
}

func (e *testEnv) login() *rawConn {
	rc := e.dial()
	rc.send("a LOGIN " + testUser + " " + testPass)
	rc.expectTagged("a", "OK")
	return rc
}

func (r *rawConn) send(line string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, line+"\r\n"); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) readLine() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (so far %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (r *rawConn) expectPrefix(p string) string {
	r.t.Helper()
	l := r.readLine()
	if !strings.HasPrefix(l, p) {
		r.t.Fatalf("got %q, want prefix %q", l, p)
	}
	return l
}

// expectTagged reads until the tagged reply and returns the untagged lines.
func (r *rawConn) expectTagged(tag, status string) []string {
	r.t.Helper()
	var untagged []string
	for {
		l := r.readLine()
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" "+status) {
				r.t.Fatalf("got %q, want %s %s (untagged %q)", l, tag, status, untagged)
			}
			return append(untagged, l)
		}
		untagged = append(untagged, l)
	}
}

// readNothing checks that nothing arrives within d.
func (r *rawConn) readNothing(d time.Duration) {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(d))
	l, err := r.br.ReadString('\n')
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		r.t.Fatalf("unexpected data %q (%v)", l, err)
	}
}

func contains(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

const simpleMsg = "From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: Hello there\r\n" +
	"Date: Tue, 05 Mar 2024 09:00:00 +0000\r\nMessage-ID: <1@example.net>\r\n\r\nHi Alice, meeting at noon.\r\n"

const multipartMsg = "From: Carol <carol@example.net>\r\nTo: alice@example.org\r\nSubject: Report\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
	"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n" +
	"--XX\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Disposition: attachment; filename=a.bin\r\n" +
	"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--XX--\r\n"
