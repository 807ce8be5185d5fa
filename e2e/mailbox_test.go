package e2e

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Accounts most tests use; the passwords are long enough for any policy.
const (
	domain = "example.test"
	alice  = "alice@example.test"
	bob    = "bob@example.test"
	carol  = "carol@example.test"
	pass   = "correct horse battery staple"
)

// mailServer starts a server with example.test and alice, bob and carol.
func mailServer(t testing.TB, set map[string]any) *Server {
	t.Helper()
	if set == nil {
		set = map[string]any{}
	}
	if _, ok := set["auth.allow_plaintext_loopback"]; !ok {
		set["auth.allow_plaintext_loopback"] = true
	}
	return startServer(t, Options{
		Domains: []string{domain},
		Users:   map[string]string{alice: pass, bob: pass, carol: pass},
		Set:     set,
	})
}

// popMessage is one message read back over POP3.
type popMessage struct {
	Num  int
	UID  string
	Size int // from LIST
	Text string
}

// fetchAll reads every message of the account with UIDL, LIST and RETR,
// and quits without deleting.
func fetchAll(t testing.TB, s *Server, user, password string) []popMessage {
	t.Helper()
	p := dialPOP3(t, s.Addr["pop3"])
	p.login(user, password)
	defer p.do("QUIT")
	p.ok("UIDL")
	var msgs []popMessage
	for _, l := range strings.Split(strings.TrimRight(p.multi(), "\r\n"), "\r\n") {
		if l == "" {
			continue
		}
		var m popMessage
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("bad UIDL line %q", l)
		}
		m.Num = atoi(t, f[0])
		m.UID = f[1]
		msgs = append(msgs, m)
	}
	p.ok("LIST")
	sizes := map[int]int{}
	for _, l := range strings.Split(strings.TrimRight(p.multi(), "\r\n"), "\r\n") {
		if f := strings.Fields(l); len(f) == 2 {
			sizes[atoi(t, f[0])] = atoi(t, f[1])
		}
	}
	for i := range msgs {
		msgs[i].Size = sizes[msgs[i].Num]
		p.ok("RETR " + itoa(msgs[i].Num))
		msgs[i].Text = p.multi()
	}
	return msgs
}

// findByID returns the messages whose Message-ID is <id@e2e.test>.
func findByID(msgs []popMessage, id string) []popMessage {
	var out []popMessage
	for _, m := range msgs {
		if strings.Contains(m.Text, "Message-ID: <"+id+"@e2e.test>") {
			out = append(out, m)
		}
	}
	return out
}

// parseMsg parses a retrieved message, failing the test if it does not.
func parseMsg(t testing.TB, text string) *mail.Message {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(text))
	if err != nil {
		t.Fatalf("retrieved message does not parse: %v\n%s", err, short(text))
	}
	return m
}

// complete reports whether a retrieved message ends with the trailer of the
// id in its Message-ID, i.e. it was stored whole.
func complete(text string) (id string, ok bool) {
	m := regexp.MustCompile(`(?m)^Message-ID: <([A-Za-z0-9-]+)@e2e.test>\r$`).FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], strings.HasSuffix(text, "\r\nEND-OF-MESSAGE "+m[1]+"\r\n")
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
