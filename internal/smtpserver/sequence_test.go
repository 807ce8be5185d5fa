package smtpserver

import (
	"strings"
	"testing"
)

// Session states the table starts from: the commands that lead there,
// each expected to succeed (or to be refused where the name says so).
var states = map[string][]string{
	"new":          nil,
	"greeted":      {"EHLO client.example.net"},
	"helo":         {"HELO client.example.net"},
	"mail":         {"EHLO client.example.net", "MAIL FROM:<a@example.net>"},
	"rcpt":         {"EHLO client.example.net", "MAIL FROM:<a@example.net>", "RCPT TO:<u@example.org>"},
	"rcptRefused":  {"EHLO client.example.net", "MAIL FROM:<a@example.net>", "RCPT TO:<bad@example.org>"},
	"afterRSET":    {"EHLO client.example.net", "MAIL FROM:<a@example.net>", "RCPT TO:<u@example.org>", "RSET"},
	"mailRefused":  {"EHLO client.example.net", "MAIL FROM:<refuse@x>"},
	"afterData":    {"EHLO client.example.net", "MAIL FROM:<a@example.net>", "RCPT TO:<u@example.org>", "DATA", "Subject: x\r\n\r\nbody\r\n."},
	"afterNewEHLO": {"EHLO client.example.net", "MAIL FROM:<a@example.net>", "RCPT TO:<u@example.org>", "EHLO again.example.net"},
}

type step struct {
	state, cmd string
	code       int
	enhanced   string
}

// sequenceTable: every command in every state, with the exact reply. The
// out-of-sequence cases come first: on go-smtp's server each of them
// answered 502 (issue 13).
var sequenceTable = []step{
	// The case: RCPT after RSET without a new MAIL.
	{"afterRSET", "RCPT TO:<u@example.org>", 503, "5.5.1"},
	{"afterRSET", "DATA", 503, "5.5.1"},
	{"afterRSET", "BDAT 0 LAST", 503, "5.5.1"},
	{"new", "MAIL FROM:<a@example.net>", 503, "5.5.1"},
	{"new", "RCPT TO:<u@example.org>", 503, "5.5.1"},
	{"new", "DATA", 503, "5.5.1"},
	{"new", "BDAT 3 LAST\r\nabc", 503, "5.5.1"},
	{"new", "AUTH PLAIN", 503, "5.5.1"},
	{"greeted", "RCPT TO:<u@example.org>", 503, "5.5.1"},
	{"greeted", "DATA", 503, "5.5.1"},
	{"greeted", "BDAT 3\r\nabc", 503, "5.5.1"},
	{"mail", "MAIL FROM:<b@example.net>", 503, "5.5.1"},
	{"mail", "DATA", 503, "5.5.1"},
	{"mail", "BDAT 1 LAST\r\nx", 503, "5.5.1"},
	{"mail", "AUTH PLAIN", 503, "5.5.1"},
	{"rcpt", "MAIL FROM:<b@example.net>", 503, "5.5.1"},
	{"rcpt", "AUTH PLAIN", 503, "5.5.1"},
	{"mailRefused", "RCPT TO:<u@example.org>", 503, "5.5.1"},
	{"mailRefused", "DATA", 503, "5.5.1"},
	{"afterData", "RCPT TO:<u@example.org>", 503, "5.5.1"},
	{"afterData", "DATA", 503, "5.5.1"},
	{"afterData", "BDAT 2 LAST\r\nxy", 503, "5.5.1"},
	{"afterNewEHLO", "RCPT TO:<u@example.org>", 503, "5.5.1"},
	{"afterNewEHLO", "DATA", 503, "5.5.1"},
	// All recipients refused: RFC 5321 §3.3 allows 554 "no valid recipients".
	{"rcptRefused", "DATA", 554, "5.5.1"},
	{"rcptRefused", "BDAT 2 LAST\r\nxy", 554, "5.5.1"},

	// Commands allowed in every state.
	{"new", "NOOP", 250, "2.0.0"},
	{"rcpt", "NOOP", 250, "2.0.0"},
	{"new", "RSET", 250, "2.0.0"},
	{"rcpt", "RSET", 250, "2.0.0"},
	{"new", "VRFY alice", 252, "2.5.0"},
	{"mail", "VRFY alice", 252, "2.5.0"},
	{"new", "HELP", 214, "2.0.0"},
	{"rcpt", "HELP", 214, "2.0.0"},
	{"new", "QUIT", 221, "2.0.0"},
	{"rcpt", "QUIT", 221, "2.0.0"},
	{"new", "EHLO client.example.net", 250, ""},
	{"rcpt", "EHLO client.example.net", 250, ""},
	{"new", "HELO client.example.net", 250, ""},
	// No TLS configured here.
	{"new", "STARTTLS", 454, "4.7.0"},

	// The happy paths.
	{"greeted", "MAIL FROM:<a@example.net>", 250, "2.1.0"},
	{"helo", "MAIL FROM:<a@example.net>", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<>", 250, "2.1.0"},
	{"greeted", "MAIL FROM: <a@example.net>", 250, "2.1.0"},
	{"greeted", "mail from:a@example.net", 250, "2.1.0"},
	{"greeted", `MAIL FROM:<"a b"@example.net>`, 250, "2.1.0"},
	{"greeted", "MAIL FROM:<@relay.example:a@example.net>", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<jörg@bücher.example> SMTPUTF8 BODY=8BITMIME", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<a@example.net> SIZE=1000 BODY=7BIT", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<a@example.net> RET=HDRS ENVID=QQ+2B1", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<a@example.net> AUTH=<>", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<a@example.net> AUTH=a+2Bb@example.net", 250, "2.1.0"},
	{"greeted", "MAIL FROM:<a@example.net> REQUIRETLS", 250, "2.1.0"},
	{"mail", "RCPT TO:<u@example.org>", 250, "2.1.5"},
	{"mail", "RCPT TO:<u@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;u+40example.org", 250, "2.1.5"},
	{"mail", "RCPT TO:<u@example.org> NOTIFY=never", 250, "2.1.5"},
	{"mail", "RCPT TO:<u@example.org> ORCPT=utf-8;j\\x{F6}rg@example.org", 250, "2.1.5"},
	{"mail", "RCPT TO:<Postmaster>", 250, "2.1.5"},
	{"mail", "RCPT TO:<postmaster> NOTIFY=NEVER", 250, "2.1.5"},
	{"rcpt", "DATA", 354, ""},
	{"rcpt", "RCPT TO:<v@example.org>", 250, "2.1.5"},

	// Refusals by the Session pass through.
	{"greeted", "MAIL FROM:<refuse@x>", 550, "5.7.1"},
	{"mail", "RCPT TO:<bad@example.org>", 550, "5.1.1"},
	{"mail", "RCPT TO:<plain-error@example.org>", 451, "4.3.0"},

	// Syntax: 501 5.5.4 (or the address's own 5.1.x), unknown
	// parameters 555 (RFC 5321 §4.1.1.11), unknown commands 500 5.5.2.
	{"new", "EHLO", 501, "5.5.4"},
	{"new", "HELO", 501, "5.5.4"},
	{"greeted", "MAIL TO:<a@example.net>", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net", 501, "5.1.7"},
	{"greeted", "MAIL FROM:<a>", 501, "5.1.7"},
	{"greeted", "MAIL FROM:<a@>", 501, "5.1.7"},
	{"greeted", "MAIL FROM:<a b@example.net>", 501, "5.1.7"},
	{"greeted", "MAIL FROM:<a@example.net>x", 501, "5.1.7"},
	{"greeted", "MAIL FROM:<a@example.net> SIZE=ten", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> SIZE=1001", 552, "5.3.4"},
	{"greeted", "MAIL FROM:<a@example.net> SIZE=99999999999999999999", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> SIZE=1 SIZE=2", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> BODY=BINARYMIME", 555, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> BODY=9BIT", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> RET=ALL", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> ENVID=a+2", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> AUTH=nobody", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> X-FOO=1", 555, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> =1", 501, "5.5.4"},
	{"greeted", "MAIL FROM:<a@example.net> SMTPUTF8=yes", 555, "5.5.4"},
	{"mail", "RCPT <u@example.org>", 501, "5.5.4"},
	{"mail", "RCPT TO:<>", 501, "5.1.3"},
	{"mail", "RCPT TO:<u>", 501, "5.1.3"},
	{"mail", "RCPT TO:<postmasters>", 501, "5.1.3"},
	{"mail", "RCPT TO:<postmaster>x", 501, "5.1.3"},
	{"mail", "RCPT TO:<u@example.org> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"},
	{"mail", "RCPT TO:<u@example.org> NOTIFY=SOMETIMES", 501, "5.5.4"},
	{"mail", "RCPT TO:<u@example.org> ORCPT=x400;foo", 501, "5.5.4"},
	{"mail", "RCPT TO:<u@example.org> SIZE=1", 555, "5.5.4"},
	{"rcpt", "DATA now", 501, "5.5.4"},
	{"rcpt", "BDAT", 501, "5.5.4"},
	{"rcpt", "BDAT x LAST", 501, "5.5.4"},
	{"rcpt", "BDAT 1 NOTLAST\r\nx", 501, "5.5.4"},
	{"new", "RSET now", 501, "5.5.4"},
	{"new", "VRFY", 501, "5.5.4"},
	{"new", "STARTTLS now", 501, "5.5.4"},
	{"greeted", "AUTH", 501, "5.5.4"},
	{"greeted", "AUTH PLAIN not-base64!", 501, "5.5.2"},
	{"greeted", "AUTH CRAM-MD5", 504, "5.5.4"},
	{"new", "FOO", 500, "5.5.2"},
	{"new", "", 500, "5.5.2"},
	{"new", "MAILFROM:<a@example.net>", 500, "5.5.2"},
	{"new", "EXPN staff", 502, "5.5.1"},
	{"new", "TURN", 502, "5.5.1"},
	{"new", strings.Repeat("X", 3000), 500, "5.5.2"},
}

func TestSequenceTable(t *testing.T) {
	ts := startServer(t, nil)
	for _, s := range sequenceTable {
		name := s.state + "/" + s.cmd
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			c := dial(t, ts.addr)
			for _, setup := range states[s.state] {
				code, text := c.cmd(setup)
				if code >= 400 && !strings.Contains(s.state, "Refused") {
					t.Fatalf("setup %q: %d %s", setup, code, text)
				}
			}
			var code int
			var text string
			if strings.Contains(s.cmd, "\r\n") {
				// A BDAT command with its chunk: nothing after the chunk.
				c.write(s.cmd)
				code, text = c.reply()
			} else {
				code, text = c.cmd(s.cmd)
			}
			if code != s.code || !strings.HasPrefix(text, s.enhanced) {
				t.Fatalf("%s: %q answered %d %q, want %d %s", s.state, s.cmd, code, text, s.code, s.enhanced)
			}
			// The session goes on in step with the client: a refused BDAT
			// chunk was skipped, not read as commands.
			if s.cmd != "QUIT" && s.code != 354 {
				c.expect("NOOP", 250, "2.0.0")
			}
		})
	}
}

// TestEHLOExtensions: EHLO offers what is enabled and nothing else.
func TestEHLOExtensions(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLS = testTLS(t) })
	c := dial(t, ts.addr)
	text := c.expect("EHLO client.example.net", 250, "mx.example.org Hello client.example.net")
	want := "mx.example.org Hello client.example.net\nPIPELINING\n8BITMIME\nENHANCEDSTATUSCODES\nCHUNKING\nSTARTTLS\nAUTH PLAIN\nSMTPUTF8\nDSN\nSIZE 1000\nLIMITS RCPTMAX=3"
	if text != want {
		t.Errorf("EHLO:\n%s\nwant\n%s", text, want)
	}
	ts = startServer(t, func(c *Config) { c.DSN, c.SMTPUTF8, c.MaxMessageBytes, c.MaxRecipients = false, false, 0, 0 })
	c = dial(t, ts.addr)
	text = c.expect("EHLO client.example.net", 250, "")
	if strings.Contains(text, "DSN") || strings.Contains(text, "SMTPUTF8") || strings.Contains(text, "STARTTLS") ||
		strings.Contains(text, "REQUIRETLS") || !strings.HasSuffix(text, "\nSIZE") {
		t.Errorf("EHLO without DSN, SMTPUTF8, TLS, limits:\n%s", text)
	}
	c.expect("MAIL FROM:<a@example.net> RET=FULL", 555, "5.5.4")
	c.expect("MAIL FROM:<a@example.net> SMTPUTF8", 555, "5.5.4")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<u@example.org> NOTIFY=NEVER", 555, "5.5.4")
	c.expect("HELO client.example.net", 250, "mx.example.org Hello")
}

// TestTooManyBadCommands: past maxBadCommands protocol errors the client
// is told 421 and the connection closes.
func TestTooManyBadCommands(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	for range maxBadCommands - 1 {
		c.expect("BOGUS", 500, "5.5.2")
	}
	c.write("BOGUS\r\n")
	c.reply()
	if code, text := c.reply(); code != 421 {
		t.Fatalf("after %d bad commands: %d %s, want 421", maxBadCommands, code, text)
	}
	if !c.closed() {
		t.Fatal("connection still open after 421")
	}
}

// TestRecipientLimit: past MaxRecipients accepted recipients, 452 4.5.3.
func TestRecipientLimit(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<bad1@example.org>", 550, "5.1.1")
	for _, r := range []string{"u1", "u2", "u3"} {
		c.expect("RCPT TO:<"+r+"@example.org>", 250, "2.1.5")
	}
	c.expect("RCPT TO:<u4@example.org>", 452, "4.5.3")
}

// TestSessionReply421Closes: a 421 from the Session closes the connection.
func TestSessionReply421Closes(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.expect("EHLO client.example.net", 250, "")
	c.expect("MAIL FROM:<a@example.net>", 250, "2.1.0")
	c.expect("RCPT TO:<close@example.org>", 421, "4.7.0")
	if !c.closed() {
		t.Fatal("connection open after 421")
	}
}
