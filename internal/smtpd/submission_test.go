package smtpd

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TestSubmissionToQueue: remote recipients reach the Relay with the DSN
// parameters, one queue entry per NOTIFY, a Received line and the
// signature on top, Bcc gone and Date/Message-ID added.
func TestSubmissionToQueue(t *testing.T) {
	h := newHarness(t, ModeSubmission)
	c, err := smtp.Dial(h.addr)
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
	q := h.queue()
	if len(q) != 2 {
		t.Fatalf("%d queue entries, want 2 (one per NOTIFY)", len(q))
	}
	m0, m1 := q[0], q[1]
	if m0.Recipients[0].Notify != "NEVER" || rcptList(m0) != "bob@remote.test" ||
		m1.Recipients[0].Notify != "" || rcptList(m1) != "carol@remote.test,dave@remote.test" {
		t.Fatalf("entries %+v / %+v", m0, m1)
	}
	if m0.Ret != "HDRS" || m0.EnvID != "env-1" || m0.Sender != "alice+x@example.org" || m0.AccountID == 0 {
		t.Fatalf("entry %+v", m0)
	}
	body := h.queuedBody(m0)
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
	if len(h.signer.domains) != 1 || h.signer.domains[0] != "example.org" {
		t.Errorf("signed for %v", h.signer.domains)
	}
}

func smtpCodeOf(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestEnvelopeExtensions: what JMAP advertises is what EHLO says.
func TestEnvelopeExtensions(t *testing.T) {
	h := newHarness(t, ModeSubmission)
	c, err := smtp.Dial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	for name, args := range h.srv.EnvelopeExtensions() {
		if name == "REQUIRETLS" {
			continue // offered on TLS sessions only (TestREQUIRETLS)
		}
		ok, param := c.Extension(name)
		if !ok || param != strings.Join(args, " ") {
			t.Errorf("%s %v: EHLO says %v %q", name, args, ok, param)
		}
	}
	if _, ok := h.srv.EnvelopeExtensions()["DSN"]; !ok {
		t.Error("DSN missing")
	}
}
