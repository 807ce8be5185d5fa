package smtpd

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/internal/queue/queuetest"
)

func harnessTLS(t *testing.T) *tls.Config {
	cert, _, err := queuetest.SelfSigned("mx.example.org")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// TestREQUIRETLS: offered only after STARTTLS, refused on a clear-text
// session, and carried with the message into the queue (RFC 8689).
func TestREQUIRETLS(t *testing.T) {
	h := newHarness(t, ModeSubmission)
	// go-smtp's client will not send the parameter to a server that did
	// not offer it: a raw session says it.
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	tp.PrintfLine("EHLO client.example.net")
	if _, msg, err := tp.ReadResponse(250); err != nil || strings.Contains(msg, "REQUIRETLS") {
		t.Fatalf("EHLO in clear text: %q, %v", msg, err)
	}
	tp.PrintfLine("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00alice password 1")))
	if _, _, err := tp.ReadResponse(235); err != nil {
		t.Fatal(err)
	}
	tp.PrintfLine("MAIL FROM:<alice@example.org> REQUIRETLS")
	if code, msg, _ := tp.ReadResponse(250); code != 530 || !strings.Contains(msg, "5.7.10") {
		t.Fatalf("MAIL REQUIRETLS in clear text: %d %s", code, msg)
	}

	tc, err := smtp.DialStartTLS(h.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if ok, _ := tc.Extension("REQUIRETLS"); !ok {
		t.Fatal("REQUIRETLS not offered after STARTTLS")
	}
	if err := tc.Auth(sasl.NewPlainClient("", "alice@example.org", "alice password 1")); err != nil {
		t.Fatal(err)
	}
	if err := tc.Mail("alice@example.org", &smtp.MailOptions{RequireTLS: true}); err != nil {
		t.Fatal(err)
	}
	if err := tc.Rcpt("bob@remote.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := tc.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: alice@example.org\r\nTo: bob@remote.test\r\nSubject: secret\r\n\r\nbody\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	q := h.queue()
	if len(q) != 1 || !q[0].RequireTLS {
		t.Fatalf("queue %+v, want one REQUIRETLS entry", q)
	}
}
