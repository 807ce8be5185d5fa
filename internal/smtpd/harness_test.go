package smtpd

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/deliver"
	"postern/internal/message"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

type fakeSigner struct {
	mu      sync.Mutex
	domains []string
}

func (f *fakeSigner) Sign(_ context.Context, domain string, msg []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.domains = append(f.domains, domain)
	return []byte("DKIM-Signature: fake\r\n"), nil
}

// logBuffer collects the server's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is a Server on loopback over a real store and the real delivery
// pipeline, with the domain example.org and alice@example.org (password
// "alice password 1").
type harness struct {
	t      *testing.T
	st     *sqlstore.Store
	addr   string
	signer *fakeSigner
	logs   *logBuffer
	alice  store.Account
	srv    *Server
}

func parseForTest(r io.Reader) (store.MessageMeta, error) {
	p, err := message.Parse(r, message.DefaultLimits())
	if err != nil {
		return store.MessageMeta{}, err
	}
	return store.MessageMeta{Envelope: p.Envelope.Marshal(), BodyStructure: p.Body.Marshal(),
		Preview: p.Preview, SearchText: p.SearchText, Headers: p.Headers}, nil
}

func newHarness(t *testing.T, mode Mode) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	cred, err := auth.HashPassword("alice password 1")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := st.AddAccount(ctx, "alice@example.org", cred)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, signer: &fakeSigner{}, logs: &logBuffer{}, alice: alice}
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	svc := auth.New(st, auth.Options{}, log)
	p := deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: parseForTest, Logger: log})
	srv := New(Config{
		Hostname: "mx.example.org", Mode: mode, AllowPlaintext: func(net.Addr) bool { return true },
		TLS: harnessTLS(t), MaxMessageBytes: 1 << 20, MaxRecipients: 10, MaxLineLength: 2000,
		MaxHeaderBytes: 64 << 10, IdleTimeout: time.Minute, ShutdownGrace: time.Second,
		Pipeline: p, Auth: svc, SCRAM: svc, Signer: h.signer, Logger: log,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	go srv.Serve(l, false)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	h.addr = l.Addr().String()
	return h
}

func (h *harness) account(addr string) store.Account {
	h.t.Helper()
	a, err := h.st.AddAccount(context.Background(), addr, store.Credentials{})
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func (h *harness) alias(src string, dests ...string) {
	h.t.Helper()
	if err := h.st.AddAlias(context.Background(), src, dests); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) queue() []store.QueueMessage {
	h.t.Helper()
	q, err := h.st.QueueList(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return q
}

// queuedBody is the message a queue entry sends.
func (h *harness) queuedBody(m store.QueueMessage) string {
	h.t.Helper()
	b := h.blob(m.BlobID)
	return b[m.Skip:]
}

func (h *harness) blob(id int64) string {
	h.t.Helper()
	rc, err := h.st.OpenBlob(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// inbox lists an account's INBOX.
func (h *harness) inbox(a store.Account) []store.Message {
	h.t.Helper()
	mb, err := h.st.Mailbox(context.Background(), a.ID, "INBOX")
	if err != nil {
		h.t.Fatal(err)
	}
	msgs, err := h.st.Messages(context.Background(), mb.ID, 1, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return msgs
}

func rcptList(m store.QueueMessage) string {
	var out []string
	for _, r := range m.Recipients {
		out = append(out, r.Rcpt)
	}
	return strings.Join(out, ",")
}
