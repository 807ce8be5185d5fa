package e2e

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
	"github.com/xdg-go/scram"
)

// submitOpts says how submitGo reaches the server and authenticates.
type submitOpts struct {
	addr        string
	implicitTLS bool
	// auth builds the SASL client once TLS is up (it may bind to it).
	auth func(cs tls.ConnectionState) sasl.Client
}

// submitGo sends msg through submission with the go-smtp client; the error
// is an *smtp.SMTPError when the server refused.
func submitGo(o submitOpts, from string, to []string, msg string) error {
	tcfg := &tls.Config{InsecureSkipVerify: true}
	var c *smtp.Client
	var err error
	if o.implicitTLS {
		c, err = smtp.DialTLS(o.addr, tcfg)
	} else {
		c, err = smtp.DialStartTLS(o.addr, tcfg)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	// EHLO finishes the STARTTLS handshake, which go-smtp starts lazily.
	if err := c.Hello("client.example.net"); err != nil {
		return err
	}
	cs, ok := c.TLSConnectionState()
	if !ok {
		return errors.New("no TLS")
	}
	if err := c.Auth(o.auth(cs)); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func plainAuth(user, pw string) func(tls.ConnectionState) sasl.Client {
	return func(tls.ConnectionState) sasl.Client { return sasl.NewPlainClient("", user, pw) }
}

// scramClient is SCRAM-SHA-256[-PLUS] on xdg-go/scram, as a go-sasl client.
type scramClient struct {
	mech string
	conv *scram.ClientConversation
}

func (c *scramClient) Start() (string, []byte, error) {
	first, err := c.conv.Step("")
	return c.mech, []byte(first), err
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	if c.conv.Done() {
		return nil, errors.New("server sent more after the exchange")
	}
	out, err := c.conv.Step(string(challenge))
	if err == nil && c.conv.Done() && !c.conv.Valid() {
		err = errors.New("server signature did not verify")
	}
	return []byte(out), err
}

// scramAuth returns a SCRAM client; cb names the channel binding type ("":
// plain SCRAM-SHA-256); wrongCB sends binding data of another channel.
func scramAuth(t *testing.T, user, pw, cb string, wrongCB bool) func(tls.ConnectionState) sasl.Client {
	return func(cs tls.ConnectionState) sasl.Client {
		cl, err := scram.SHA256.NewClient(user, pw, "")
		if err != nil {
			t.Fatal(err)
		}
		if cb == "" {
			return &scramClient{mech: "SCRAM-SHA-256", conv: cl.NewConversation()}
		}
		var b scram.ChannelBinding
		if cb == "tls-exporter" {
			b, err = scram.NewTLSExporterBinding(&cs)
		} else {
			b, err = scram.NewTLSServerEndpointBinding(&cs)
		}
		if err != nil {
			t.Fatalf("binding on TLS %x (resumed %v): %v", cs.Version, cs.DidResume, err)
		}
		if wrongCB {
			b.Data = append([]byte{}, b.Data...)
			b.Data[0] ^= 1
		}
		return &scramClient{mech: "SCRAM-SHA-256-PLUS", conv: cl.NewConversationWithChannelBinding(b)}
	}
}

// TestSubmissionSTARTTLSRequired: on 587 without TLS, AUTH is neither
// offered nor accepted; after STARTTLS it is, with SCRAM-PLUS; 465 offers it
// at once. Unauthenticated MAIL is 530.
func TestSubmissionSTARTTLSRequired(t *testing.T) {
	t.Parallel()
	s := mailServer(t, map[string]any{"auth.allow_plaintext_loopback": false})
	c := smtpSession(t, s.Addr["submission"])
	if code, _ := c.cmd("MAIL FROM:<" + alice + ">"); code != 530 {
		t.Errorf("unauthenticated MAIL: %d, want 530", code)
	}
	c = smtpSession(t, s.Addr["submission"])
	// smtpSession said EHLO; ask again to read the extensions.
	ehlo := c.expect("EHLO client.example.net", 250)
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("AUTH offered before STARTTLS: %q", ehlo)
	}
	if code, _ := c.cmd("AUTH LOGIN"); code/100 != 5 {
		t.Errorf("AUTH LOGIN before STARTTLS: %d, want 5xx", code)
	}
	tc, err := smtp.DialStartTLS(s.Addr["submission"], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	_, mechs := tc.Extension("AUTH")
	for _, m := range []string{"PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"} {
		if !strings.Contains(" "+mechs+" ", " "+m+" ") {
			t.Errorf("after STARTTLS, AUTH lacks %s: %q", m, mechs)
		}
	}
}

// TestSubmissionPythonAndSwaks: PLAIN and LOGIN with smtplib and swaks, on
// 587 with STARTTLS and on 465.
func TestSubmissionPythonAndSwaks(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	var ids []string
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		for _, implicit := range []bool{false, true} {
			id := uniq()
			ids = append(ids, id)
			addr := s.Addr["submission"]
			if implicit {
				addr = s.Addr["submissions"]
			}
			var res struct {
				OK    bool
				Auth  []any
				Mechs string
				Error any
			}
			runPy(t, "submit.py", map[string]any{
				"host": "127.0.0.1", "port": port(t, addr), "ssl": implicit, "starttls": !implicit,
				"mech": mech, "user": alice, "password": pass,
				"from": alice, "to": []string{bob}, "msg": testMessage(alice, bob, id, "via smtplib "+mech),
			}, &res)
			if !res.OK {
				t.Errorf("smtplib %s implicitTLS=%v: %v (mechs %q)", mech, implicit, res.Error, res.Mechs)
			}
			id = uniq()
			ids = append(ids, id)
			host, p := splitAddr(t, addr)
			tlsFlag := "--tls"
			if implicit {
				tlsFlag = "--tls-on-connect"
			}
			out, err := exec.Command("swaks", "--server", host, "--port", p, tlsFlag,
				"--auth", mech, "--auth-user", alice, "--auth-password", pass,
				"--from", alice, "--to", bob, "--helo", "swaks.example.net",
				"--header", "Message-ID: <"+id+"@e2e.test>", "--body", "swaks "+mech+"\nEND-OF-MESSAGE "+id).CombinedOutput()
			if err != nil {
				t.Errorf("swaks %s implicitTLS=%v: %v\n%s", mech, implicit, err, tail(string(out), 15))
			}
		}
	}
	msgs := fetchAll(t, s, bob, pass)
	for _, id := range ids {
		if n := len(findByID(msgs, id)); n != 1 {
			t.Errorf("bob has %d copies of %s", n, id)
		}
	}
}

// TestSubmissionSCRAM: SCRAM-SHA-256 and -PLUS with both channel bindings,
// on 587 and 465, with a Go client; a wrong binding or password fails.
func TestSubmissionSCRAM(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	cases := []struct {
		cb          string
		wrongCB     bool
		pw          string
		implicitTLS bool
		ok          bool
	}{
		{"", false, pass, false, true},
		{"tls-exporter", false, pass, false, true},
		{"tls-server-end-point", false, pass, false, true},
		{"tls-exporter", false, pass, true, true},
		{"tls-server-end-point", false, pass, true, true},
		{"tls-exporter", true, pass, true, false},
		{"tls-server-end-point", true, pass, false, false},
		{"", false, "wrong password", false, false},
	}
	var ids []string
	for _, c := range cases {
		addr := s.Addr["submission"]
		if c.implicitTLS {
			addr = s.Addr["submissions"]
		}
		id := uniq()
		err := submitGo(submitOpts{addr: addr, implicitTLS: c.implicitTLS, auth: scramAuth(t, alice, c.pw, c.cb, c.wrongCB)},
			alice, []string{bob}, testMessage(alice, bob, id, "scram"))
		switch {
		case c.ok && err != nil:
			t.Errorf("SCRAM %+v: %v", c, err)
		case !c.ok && err == nil:
			t.Errorf("SCRAM %+v succeeded", c)
		case c.ok:
			ids = append(ids, id)
		}
	}
	msgs := fetchAll(t, s, bob, pass)
	for _, id := range ids {
		if n := len(findByID(msgs, id)); n != 1 {
			t.Errorf("bob has %d copies of %s", n, id)
		}
	}
}

// TestSubmissionAppPasswords: an app password works on SMTP (PLAIN and
// SCRAM-PLUS), IMAP and POP3, is listed with its last use, and stops
// working once deleted.
func TestSubmissionAppPasswords(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	out := s.CLI("", "user", "app-password", "add", alice, "phone").mustOK(t).Stdout
	_, app, ok := strings.Cut(strings.TrimSpace(out), ": ")
	if !ok || len(app) < 20 {
		t.Fatalf("app-password add printed %q", out)
	}
	s.AddSecret(app)
	sub := submitOpts{addr: s.Addr["submissions"], implicitTLS: true, auth: plainAuth(alice, app)}
	if err := submitGo(sub, alice, []string{bob}, testMessage(alice, bob, uniq(), "app password")); err != nil {
		t.Fatalf("SMTP PLAIN with app password: %v", err)
	}
	sub.auth = scramAuth(t, alice, app, "tls-exporter", false)
	if err := submitGo(sub, alice, []string{bob}, testMessage(alice, bob, uniq(), "app password scram")); err != nil {
		t.Fatalf("SMTP SCRAM-PLUS with app password: %v", err)
	}
	if n := len(fetchAll(t, s, alice, app)); n != 0 {
		t.Fatalf("alice has %d messages", n)
	}
	// A new account password leaves the app password working with SCRAM
	// too: its keys were derived with the account's salt, which stays.
	const newPass = "a whole new account password"
	s.AddSecret(newPass)
	s.CLI(newPass+"\n", "user", "passwd", alice, "--password-stdin").mustOK(t)
	sub.auth = scramAuth(t, alice, app, "tls-exporter", false)
	if err := submitGo(sub, alice, []string{bob}, testMessage(alice, bob, uniq(), "app password scram after passwd")); err != nil {
		t.Fatalf("SMTP SCRAM-PLUS with app password after user passwd: %v", err)
	}
	sub.auth = scramAuth(t, alice, newPass, "tls-exporter", false)
	if err := submitGo(sub, alice, []string{bob}, testMessage(alice, bob, uniq(), "new password scram")); err != nil {
		t.Fatalf("SMTP SCRAM-PLUS with the new password: %v", err)
	}
	imapLogin := func(pw string) error {
		c, err := imapclient.DialTLS(s.Addr["imaps"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Login(alice, pw).Wait()
	}
	if err := imapLogin(app); err != nil {
		t.Fatalf("IMAP with app password: %v", err)
	}
	list := s.CLI("", "user", "app-password", "list", alice).mustOK(t).Stdout
	if !strings.HasPrefix(list, "phone\t") || !strings.Contains(list, "last used") {
		t.Errorf("list: %q", list)
	}
	s.CLI("", "user", "app-password", "del", alice, "phone").mustOK(t)
	if err := imapLogin(app); err == nil {
		t.Error("IMAP login with a deleted app password")
	}
	sub.auth = plainAuth(alice, app)
	if err := submitGo(sub, alice, []string{bob}, testMessage(alice, bob, uniq(), "x")); smtpCode(err) != 535 {
		t.Errorf("SMTP with a deleted app password: %v, want 535", err)
	}
}

// TestSubmissionSpoofing: MAIL FROM and header From must be the user's own
// addresses; subaddresses and aliases to the user are.
func TestSubmissionSpoofing(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	s.CLI("", "alias", "add", "sales@example.test", alice).mustOK(t)
	sub := submitOpts{addr: s.Addr["submissions"], implicitTLS: true, auth: plainAuth(alice, pass)}
	cases := []struct {
		mailFrom, headerFrom string
		code                 int
	}{
		{bob, alice, 553},
		{"alice@elsewhere.test", alice, 553},
		{alice, bob, 553},
		{alice, "Bob <bob@example.test>", 553},
		{alice, "alice@example.test, bob@example.test", 553},
		{"alice+news@example.test", "sales@example.test", 0},
		{"sales@example.test", "\"Alice\" <ALICE@example.test>", 0},
	}
	for _, c := range cases {
		msg := strings.Replace(testMessage(alice, bob, uniq(), "spoof?"), "From: <"+alice+">", "From: "+c.headerFrom, 1)
		err := submitGo(sub, c.mailFrom, []string{bob}, msg)
		if got := smtpCode(err); got != c.code || (c.code == 0 && err != nil) {
			t.Errorf("MAIL FROM %s, From: %s: %v, want code %d", c.mailFrom, c.headerFrom, err, c.code)
		}
	}
	// The owner of a catch-all receives unknown addresses of the domain;
	// it may not send as them.
	s.CLI("", "domain", "catchall", "example.test", alice).mustOK(t)
	ghost := "ghost@example.test"
	msg0 := strings.Replace(testMessage(alice, bob, uniq(), "catch-all"), "From: <"+alice+">", "From: <"+ghost+">", 1)
	if err := submitGo(sub, ghost, []string{bob}, msg0); smtpCode(err) != 553 {
		t.Errorf("sending as an address only the catch-all takes: %v, want 553", err)
	}
	s.CLI("", "domain", "catchall", "example.test", "").mustOK(t)
	// Sender and Resent-From are held to the same rule, and so is an
	// address that a display name spells.
	for _, c := range []struct {
		extra string
		code  int
	}{
		{"Sender: bob@example.test\r\n", 553},
		{"Resent-From: Bob <bob@example.test>\r\n", 553},
		{"Resent-Sender: bob@example.test\r\n", 553},
		{"From2: x\r\nSender: sales@example.test\r\n", 0},
	} {
		msg := strings.Replace(testMessage(alice, bob, uniq(), "spoof?"), "From: <"+alice+">\r\n", "From: <"+alice+">\r\n"+c.extra, 1)
		if err := submitGo(sub, alice, []string{bob}, msg); smtpCode(err) != c.code || (c.code == 0 && err != nil) {
			t.Errorf("with %q: %v, want code %d", c.extra, err, c.code)
		}
	}
	for _, from := range []string{`"bob@example.test" <alice@example.test>`, `=?utf-8?q?bob=40example=2Etest?= <alice@example.test>`} {
		msg := strings.Replace(testMessage(alice, bob, uniq(), "spoof?"), "From: <"+alice+">", "From: "+from, 1)
		if err := submitGo(sub, alice, []string{bob}, msg); smtpCode(err) != 553 {
			t.Errorf("From: %s: %v, want 553", from, err)
		}
	}
	// A message without From is refused, not passed on.
	msg := strings.Replace(testMessage(alice, bob, uniq(), "x"), "From: <"+alice+">\r\n", "", 1)
	if err := submitGo(sub, alice, []string{bob}, msg); smtpCode(err)/100 != 5 {
		t.Errorf("no From: %v", err)
	}
}

// dnsZoneTXT runs `postern dns example.test`, checks that it parses as zone
// records with the expected record types, and returns its TXT records.
func dnsZoneTXT(t *testing.T, s *Server) map[string][]string {
	t.Helper()
	zone := s.CLI("", "dns", "example.test").mustOK(t).Stdout
	txt := map[string][]string{}
	types := map[string]int{}
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		types[dns.TypeToString[rr.Header().Rrtype]]++
		if t, ok := rr.(*dns.TXT); ok {
			txt[strings.TrimSuffix(t.Hdr.Name, ".")] = []string{strings.Join(t.Txt, "")}
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("postern dns output is not a zone: %v\n%s", err, zone)
	}
	// MX; SPF, DMARC, two DKIM keys, MTA-STS and TLS-RPT; six RFC 6186 SRV
	// and autodiscover; the autoconfig, autodiscover and mta-sts names.
	want := map[string]int{"MX": 1, "TXT": 6, "SRV": 7, "CNAME": 3}
	for typ, n := range want {
		if types[typ] != n {
			t.Errorf("%d %s records, want %d\n%s", types[typ], typ, n, zone)
		}
	}
	return txt
}

// TestSubmissionDKIMAndHeaders: a submitted message arrives with Bcc gone,
// Date and Message-ID added, a Received header and two DKIM signatures that
// verify against the keys `postern dns` prints; the dns output parses as
// zone records and has the records a domain needs.
func TestSubmissionDKIMAndHeaders(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	txt := dnsZoneTXT(t, s)
	body := "Subject: no date, no id\r\nFrom: Alice <alice@example.test>\r\nTo: bob@example.test\r\n" +
		"Bcc: carol@example.test\r\n\r\nHello Bob.\r\n"
	id := uniq()
	body += "END-OF-MESSAGE " + id + "\r\n"
	sub := submitOpts{addr: s.Addr["submissions"], implicitTLS: true, auth: plainAuth(alice, pass)}
	if err := submitGo(sub, alice, []string{bob, carol}, body); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{bob, carol} {
		var got string
		for _, m := range fetchAll(t, s, who, pass) {
			if strings.Contains(m.Text, "END-OF-MESSAGE "+id) {
				got = m.Text
			}
		}
		if got == "" {
			t.Fatalf("%s did not get the message", who)
		}
		hdr, _, _ := strings.Cut(got, "\r\n\r\n")
		for _, need := range []string{"\r\nDate: ", "\r\nMessage-ID: <", "\r\nReceived: ", "with ESMTPSA"} {
			if !strings.Contains(hdr, need) {
				t.Errorf("%s's copy lacks %q:\n%s", who, need, hdr)
			}
		}
		if strings.Contains(hdr, "Bcc") || strings.Contains(hdr, "carol") {
			t.Errorf("%s's copy shows the Bcc:\n%s", who, hdr)
		}
		vs, err := dkim.VerifyWithOptions(strings.NewReader(got), &dkim.VerifyOptions{
			LookupTXT: func(name string) ([]string, error) {
				if v, ok := txt[name]; ok {
					return v, nil
				}
				return nil, fmt.Errorf("no TXT for %s", name)
			},
		})
		if err != nil || len(vs) != 2 {
			t.Fatalf("%d DKIM verifications, %v", len(vs), err)
		}
		algs := ""
		for _, v := range vs {
			if v.Err != nil || v.Domain != "example.test" {
				t.Errorf("DKIM: domain %s: %v", v.Domain, v.Err)
			}
		}
		for _, a := range []string{"a=ed25519-sha256", "a=rsa-sha256"} {
			if !strings.Contains(strings.ReplaceAll(hdr, "\r\n", ""), a) {
				algs += a + " "
			}
		}
		if algs != "" {
			t.Errorf("no signature with %s", algs)
		}
	}
	// After a rotation the new keys sign, and dns prints them.
	old := s.CLI("", "dkim", "list", "example.test").mustOK(t).Stdout
	s.CLI("", "dkim", "rotate", "example.test").mustOK(t)
	list := s.CLI("", "dkim", "list", "example.test").mustOK(t).Stdout
	if strings.Count(list, "\tactive\t") != 2 || strings.Count(list, "\tretired\t") != 2 {
		t.Errorf("after rotate:\n%s\nbefore:\n%s", list, old)
	}
}
