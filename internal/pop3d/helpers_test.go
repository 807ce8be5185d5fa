package pop3d

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// fakeStore is an in-memory Mailstore: one INBOX per account.
type fakeStore struct {
	mu        sync.Mutex
	boxes     map[int64]*fakeBox // by account ID
	blobs     map[int64][]byte
	nextBlob  int64
	expunges  int // Expunge calls
	failBlobs bool
	chunk     int // read size of blob readers; 0 means unlimited
}

type fakeBox struct {
	mb   store.Mailbox
	msgs []store.Message
}

func newFakeStore() *fakeStore {
	// A small-chunk reader makes dot-stuffing cross read boundaries.
	return &fakeStore{boxes: make(map[int64]*fakeBox), blobs: make(map[int64][]byte), chunk: 7}
}

// add appends a message with this body to the account's INBOX.
func (f *fakeStore) add(accountID int64, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.inbox(accountID)
	f.nextBlob++
	f.blobs[f.nextBlob] = []byte(body)
	b.msgs = append(b.msgs, store.Message{
		ID: f.nextBlob, MailboxID: b.mb.ID, UID: b.mb.UIDNext,
		Size: int64(len(body)), BlobID: f.nextBlob,
	})
	b.mb.UIDNext++
}

// inbox returns the account's INBOX, created empty on first use as the
// real store creates it with the account.
func (f *fakeStore) inbox(accountID int64) *fakeBox {
	b := f.boxes[accountID]
	if b == nil {
		b = &fakeBox{mb: store.Mailbox{ID: accountID * 100, AccountID: accountID, Name: "INBOX", UIDValidity: 1700000000 + uint32(accountID), UIDNext: 1}}
		f.boxes[accountID] = b
	}
	return b
}

func (f *fakeStore) box(accountID int64) *fakeBox {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.boxes[accountID]
	if b == nil {
		return &fakeBox{}
	}
	return &fakeBox{mb: b.mb, msgs: slices.Clone(b.msgs)}
}

func (f *fakeStore) Mailbox(_ context.Context, accountID int64, name string) (store.Mailbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "INBOX" {
		return store.Mailbox{}, store.ErrNotFound
	}
	return f.inbox(accountID).mb, nil
}

func (f *fakeStore) byMailbox(id int64) *fakeBox {
	for _, b := range f.boxes {
		if b.mb.ID == id {
			return b
		}
	}
	return nil
}

func (f *fakeStore) Messages(_ context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.byMailbox(mailboxID)
	if b == nil {
		return nil, store.ErrNotFound
	}
	var out []store.Message
	for _, m := range b.msgs {
		if m.UID >= from && (to == 0 || m.UID <= to) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fakeStore) UpdateFlags(_ context.Context, mailboxID int64, uids []uint32, upd store.FlagUpdate) (store.FlagResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.byMailbox(mailboxID)
	var res store.FlagResult
	for i := range b.msgs {
		if slices.Contains(uids, b.msgs[i].UID) && upd.Op == store.FlagsAdd {
			b.msgs[i].Flags |= upd.Flags
			res.Changed = append(res.Changed, b.msgs[i])
		}
	}
	return res, nil
}

func (f *fakeStore) Expunge(_ context.Context, mailboxID int64, uids []uint32) ([]uint32, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expunges++
	b := f.byMailbox(mailboxID)
	var gone []uint32
	b.msgs = slices.DeleteFunc(b.msgs, func(m store.Message) bool {
		if slices.Contains(uids, m.UID) {
			gone = append(gone, m.UID)
			return true
		}
		return false
	})
	return gone, 0, nil
}

func (f *fakeStore) OpenBlob(_ context.Context, blobID int64) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, ok := f.blobs[blobID]
	if !ok || f.failBlobs {
		return nil, store.ErrNotFound
	}
	if f.chunk == 0 {
		return io.NopCloser(bytes.NewReader(body)), nil
	}
	return io.NopCloser(&chunkReader{data: body, n: f.chunk}), nil
}

type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// fakeAuth knows a few accounts; "throttled@x" is always throttled.
type fakeAuth struct {
	users map[string]fakeUser
}

type fakeUser struct {
	id   int64
	pass string
}

func (a *fakeAuth) Login(_ context.Context, _ netip.Addr, username, password string) (store.Account, error) {
	username = strings.ToLower(username)
	if username == "throttled@x" {
		return store.Account{}, auth.ErrThrottled
	}
	u, ok := a.users[username]
	if !ok || u.pass != password {
		return store.Account{}, auth.ErrFailed
	}
	return store.Account{ID: u.id, Address: username}, nil
}

// testEnv is a running server with its fakes.
type testEnv struct {
	t     *testing.T
	srv   *Server
	store *fakeStore
	addr  string
	logs  *syncBuffer
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

// startServer runs a server on loopback. mod may change the config; by
// default plaintext passwords are allowed and TLS is off.
func startServer(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	fs := newFakeStore()
	logs := &syncBuffer{}
	cfg := Config{
		Hostname: "pop.test",
		Auth: &fakeAuth{users: map[string]fakeUser{
			"alice@x": {1, "secret"},
			"bob@x":   {2, "pass word"},
		}},
		Store:          fs,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
		AllowPlaintext: func(net.Addr) bool { return true },
	}
	if mod != nil {
		mod(&cfg)
	}
	return startWith(t, cfg, fs, logs, false)
}

func startWith(t *testing.T, cfg Config, fs *fakeStore, logs *syncBuffer, implicitTLS bool) *testEnv {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l, implicitTLS) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testEnv{t: t, srv: srv, store: fs, addr: l.Addr().String(), logs: logs}
}

// client is a line-oriented POP3 test client.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (e *testEnv) dial() *client {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	cl := &client{t: e.t, conn: c, r: bufio.NewReader(c)}
	cl.expectOK(cl.line())
	return cl
}

func (c *client) line() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading reply: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("reply %q does not end in CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends one command and returns the first line of the reply.
func (c *client) cmd(format string, args ...any) string {
	c.t.Helper()
	c.send(fmt.Sprintf(format, args...) + "\r\n")
	return c.line()
}

func (c *client) expectOK(reply string) {
	c.t.Helper()
	if !strings.HasPrefix(reply, "+OK") {
		c.t.Fatalf("want +OK, got %q", reply)
	}
}

// rawBody reads a multi-line body up to and excluding the ".\r\n"
// terminator, verbatim (still dot-stuffed).
func (c *client) rawBody() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		if l == "." {
			return b.String()
		}
		b.WriteString(l + "\r\n")
	}
}

// lines reads a multi-line body and returns its lines, un-stuffed.
func (c *client) lines() []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

func (c *client) login(user, pass string) {
	c.t.Helper()
	c.expectOK(c.cmd("USER %s", user))
	c.expectOK(c.cmd("PASS %s", pass))
}

// expectClosed asserts the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil {
		c.t.Fatalf("want EOF, got %v after %q", err, rest)
	}
}

// waitUnlocked waits until the server released the account's lock, which
// happens just after the connection closes.
func (e *testEnv) waitUnlocked(accountID int64) {
	e.t.Helper()
	for range 200 {
		e.srv.mu.Lock()
		_, busy := e.srv.locks[accountID]
		e.srv.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("lock not released")
}

// selfSigned returns a TLS config with a fresh self-signed certificate for
// 127.0.0.1, and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pop.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"pop.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "pop.test"}
	return server, client
}
