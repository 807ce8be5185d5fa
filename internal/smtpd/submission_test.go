package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/internal/auth"
	"postern/internal/deliver"
	"postern/internal/queue"
	"postern/internal/store/sqlstore"
)

type fakeRelay struct {
	mu   sync.Mutex
	msgs []queue.Message
	body []string
}

func (r *fakeRelay) Enqueue(_ context.Context, m queue.Message) (string, error) {
	b, err := io.ReadAll(m.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.body = append(r.body, string(b))
	return "q1", err
}

type fakeSigner struct{ domains []string }

func (f *fakeSigner) Sign(_ context.Context, domain string, msg []byte) ([]byte, error) {
	f.domains = append(f.domains, domain)
	return []byte("DKIM-Signature: fake\r\n"), nil
}

// submissionServer runs a submission Server on loopback over a real store
// with alice@example.org (password "alice password 1").
func submissionServer(t *testing.T) (string, *fakeRelay, *fakeSigner) {
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
	if _, err := st.AddAccount(ctx, "alice@example.org", cred); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	relay, signer := &fakeRelay{}, &fakeSigner{}
	svc := auth.New(st, auth.Options{}, log)
	srv := New(Config{
		Hostname: "mx.example.org", Mode: ModeSubmission, AllowPlaintext: func(net.Addr) bool { return true },
		TLS: &tls.Config{}, MaxMessageBytes: 1 << 20, MaxRecipients: 10, MaxLineLength: 2000,
		MaxHeaderBytes: 64 << 10, IdleTimeout: time.Minute, ShutdownGrace: time.Second,
		Deliverer: deliver.New(st, st, nil, nil, log), Auth: svc, SCRAM: svc, Relay: relay, Signer: signer, Logger: log,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return l.Addr().String(), relay, signer
}

// TestSubmissionToQueue: remote recipients reach the Relay with the DSN
// parameters, one queue entry per NOTIFY, a Received line and the
// signature on top, Bcc gone and Date/Message-ID added.
func TestSubmissionToQueue(t *testing.T) {
	addr, relay, signer := submissionServer(t)
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@example.org", nil); smtpCodeOf(err) != 530 {
		t.Fatalf("MAIL before AUTH: %v", err)
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.org", "alice password 1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@example.org", nil); smtpCodeOf(err) != 553 {
		t.Fatalf("MAIL FROM another address: %v", err)
	}
	if err := c.Mail("alice+x@example.org", &smtp.MailOptions{Return: smtp.DSNReturnHeaders, EnvelopeID: "env-1"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		to     string
		notify []smtp.DSNNotify
	}{{"bob@remote.test", []smtp.DSNNotify{smtp.DSNNotifyNever}}, {"carol@remote.test", nil}, {"dave@remote.test", nil}} {
		if err := c.Rcpt(r.to, &smtp.RcptOptions{Notify: r.notify}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\nBcc: carol@remote.test,\r\n dave@remote.test\r\nSubject: hi\r\n\r\nbody\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(relay.msgs) != 2 {
		t.Fatalf("%d queue entries, want 2 (one per NOTIFY)", len(relay.msgs))
	}
	m0, m1 := relay.msgs[0], relay.msgs[1]
	if m0.Notify != "NEVER" || strings.Join(m0.To, ",") != "bob@remote.test" ||
		m1.Notify != "" || strings.Join(m1.To, ",") != "carol@remote.test,dave@remote.test" {
		t.Fatalf("entries %+v / %+v", m0, m1)
	}
	if m0.Ret != "HDRS" || m0.EnvID != "env-1" || m0.From != "alice+x@example.org" || m0.AccountID == 0 {
		t.Fatalf("entry %+v", m0)
	}
	body := relay.body[0]
	if !strings.HasPrefix(body, "Received: from client.example.net") || !strings.Contains(body, "\r\nDKIM-Signature: fake\r\n") {
		t.Fatalf("body:\n%s", body)
	}
	for _, want := range []string{"\r\nDate: ", "\r\nMessage-ID: <", "\r\nSubject: hi\r\n", "\r\n\r\nbody\r\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Bcc") || strings.Contains(body, "dave") {
		t.Errorf("Bcc kept:\n%s", body)
	}
	if len(signer.domains) != 1 || signer.domains[0] != "example.org" {
		t.Errorf("signed for %v", signer.domains)
	}
}

func smtpCodeOf(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
