package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// pyPOP3 is the JSON that py/pop3.py prints.
type pyPOP3 struct {
	Welcome string
	Results []struct {
		Count, Size int
		Resp        string
		Lines       []string
		Text        string
		Octets      int
		Capa        map[string][]string
	}
	Error *string
}

func runPOP3(t *testing.T, s *Server, mode, user, password string, steps ...[]any) pyPOP3 {
	t.Helper()
	addr := s.Addr["pop3"]
	if mode == "ssl" {
		addr = s.Addr["pop3s"]
	}
	if steps == nil {
		steps = [][]any{}
	}
	var out pyPOP3
	runPy(t, "pop3.py", map[string]any{
		"host": "127.0.0.1", "port": port(t, addr), "mode": mode,
		"user": user, "pass": password, "steps": steps,
	}, &out)
	return out
}

func step(args ...any) []any { return args }

// deliverThree sends three messages to alice, the second with lines that
// need dot-stuffing, and returns them in order.
func deliverThree(t *testing.T, s *Server) []string {
	t.Helper()
	bodies := []string{"first\r\n", ".hidden\r\n..two dots\r\n.\r\nend\r\n", strings.Repeat("a longer line of ninety characters, repeated to make a message of some size ........\r\n", 60)}
	var msgs []string
	for _, b := range bodies {
		m := testMessage("x@remote.test", alice, uniq(), b)
		mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, m)
		msgs = append(msgs, m)
	}
	return msgs
}

// TestPOP3FullSession drives Python's poplib through CAPA, STAT, LIST,
// UIDL, TOP, RETR and DELE, then checks in a second session that DELE
// applied at QUIT and the other UIDs did not change (RFC 1939 §7).
func TestPOP3FullSession(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	sent := deliverThree(t, s)
	r := runPOP3(t, s, "plain", alice, pass,
		step("capa"), step("stat"), step("list"), step("uidl"), step("top", 1, 0),
		step("retr", 1), step("retr", 2), step("retr", 3), step("top", 2, 1), step("dele", 2))
	if r.Error != nil {
		t.Fatalf("poplib: %s", *r.Error)
	}
	capa := r.Results[0].Capa
	for _, c := range []string{"UIDL", "TOP", "USER"} {
		if _, ok := capa[c]; !ok {
			t.Errorf("CAPA lacks %s: %v", c, capa)
		}
	}
	stat, list, uidl := r.Results[1], r.Results[2], r.Results[3]
	if stat.Count != 3 {
		t.Fatalf("STAT count %d, want 3", stat.Count)
	}
	total := 0
	for i, rr := range r.Results[5:8] {
		if !strings.HasSuffix(rr.Text, sent[i]) {
			t.Errorf("RETR %d does not end with the message sent (dot-stuffing?):\n%s", i+1, short(rr.Text))
		}
		want := strings.Fields(list.Lines[i])
		if len(want) != 2 || want[1] != itoa(rr.Octets) {
			t.Errorf("LIST line %q but RETR %d gave %d octets", list.Lines[i], i+1, rr.Octets)
		}
		total += rr.Octets
	}
	if stat.Size != total {
		t.Errorf("STAT size %d, sum of RETR octets %d", stat.Size, total)
	}
	top := r.Results[4].Text
	if hdr, _, _ := strings.Cut(r.Results[5].Text, "\r\n\r\n"); top != hdr+"\r\n\r\n" {
		t.Errorf("TOP 1 0 = %q, want the header and the blank line", short(top))
	}
	// TOP 2 1: the header, the blank line and the first body line, whose
	// leading dot was stuffed on the wire (RFC 1939 §3, §11).
	if hdr, _, _ := strings.Cut(r.Results[6].Text, "\r\n\r\n"); r.Results[8].Text != hdr+"\r\n\r\n.hidden\r\n" {
		t.Errorf("TOP 2 1 = %q", short(r.Results[8].Text))
	}

	r2 := runPOP3(t, s, "plain", alice, pass, step("stat"), step("uidl"))
	if r2.Error != nil {
		t.Fatalf("poplib second session: %s", *r2.Error)
	}
	if r2.Results[0].Count != 2 {
		t.Errorf("after DELE 2 + QUIT, STAT count %d, want 2", r2.Results[0].Count)
	}
	uid := func(l string) string { f := strings.Fields(l); return f[len(f)-1] }
	want := []string{uid(uidl.Lines[0]), uid(uidl.Lines[2])}
	got := r2.Results[1].Lines
	if len(got) != 2 || uid(got[0]) != want[0] || uid(got[1]) != want[1] {
		t.Errorf("UIDL after delete = %v, want UIDs %v", got, want)
	}

	// UIDs survive a restart too (RFC 1939 §7: persistent across sessions).
	if err := s.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	s.Restart()
	r3 := runPOP3(t, s, "plain", alice, pass, step("uidl"))
	if r3.Error != nil {
		t.Fatalf("poplib after restart: %s", *r3.Error)
	}
	if got := r3.Results[0].Lines; len(got) != 2 || uid(got[0]) != want[0] || uid(got[1]) != want[1] {
		t.Errorf("UIDL after restart = %v, want UIDs %v", got, want)
	}
}

// TestPOP3RSET: RSET undoes DELE; a deleted message cannot be retrieved.
func TestPOP3RSET(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	deliverThree(t, s)
	p := dialPOP3(t, s.Addr["pop3"])
	p.login(alice, pass)
	p.ok("DELE 1")
	if l := p.do("RETR 1"); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("RETR of a deleted message: %q", l)
	}
	if l := p.do("DELE 1"); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("second DELE 1: %q", l)
	}
	if l := p.ok("STAT"); !strings.HasPrefix(l, "+OK 2 ") {
		t.Errorf("STAT after DELE: %q", l)
	}
	p.ok("RSET")
	if l := p.ok("STAT"); !strings.HasPrefix(l, "+OK 3 ") {
		t.Errorf("STAT after RSET: %q", l)
	}
	p.ok("NOOP")
	p.ok("QUIT")
	if n := len(fetchAll(t, s, alice, pass)); n != 3 {
		t.Errorf("after RSET and QUIT, %d messages, want 3", n)
	}
	// Deletions without QUIT are not applied (RFC 1939 §6).
	p = dialPOP3(t, s.Addr["pop3"])
	p.login(alice, pass)
	p.ok("DELE 1")
	p.c.Close()
	if n := len(waitUnlocked(t, s, alice)); n != 3 {
		t.Errorf("after DELE and a dropped connection, %d messages, want 3", n)
	}
}

// waitUnlocked fetches the mailbox, retrying while a dropped session may
// still hold the lock.
func waitUnlocked(t *testing.T, s *Server, user string) []popMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := dialPOP3(t, s.Addr["pop3"])
		p.ok("USER " + user)
		l := p.do("PASS " + pass)
		p.do("QUIT")
		if strings.HasPrefix(l, "+OK") || time.Now().After(deadline) {
			return fetchAll(t, s, user, pass)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPOP3TLS: STLS with poplib.stls() and implicit TLS on pop3s, with
// plaintext logins refused when allow_plaintext_loopback is false.
func TestPOP3TLS(t *testing.T) {
	t.Parallel()
	s := mailServer(t, map[string]any{"auth.allow_plaintext_loopback": false})
	deliverThree(t, s)
	p := dialPOP3(t, s.Addr["pop3"])
	p.ok("CAPA")
	if capa := p.multi(); !strings.Contains(capa, "STLS\r\n") || strings.Contains(capa, "USER\r\n") {
		t.Errorf("CAPA before TLS without plaintext: want STLS and no USER, got %q", capa)
	}
	for _, mode := range []string{"stls", "ssl"} {
		r := runPOP3(t, s, mode, alice, pass, step("stat"))
		if r.Error != nil {
			t.Errorf("%s: %s", mode, *r.Error)
		} else if r.Results[0].Count != 3 {
			t.Errorf("%s: STAT count %d", mode, r.Results[0].Count)
		}
	}
	r := runPOP3(t, s, "plain", alice, pass, step("stat"))
	if r.Error == nil {
		t.Errorf("plaintext USER/PASS without TLS succeeded with allow_plaintext_loopback=false")
	}
	p = dialPOP3(t, s.Addr["pop3"])
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + pass))
	if l := p.do("AUTH PLAIN " + plain); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("AUTH PLAIN without TLS: %q", l)
	}
	p = dialPOP3S(t, s.Addr["pop3s"])
	p.ok("AUTH PLAIN " + plain)
	p.ok("STAT")
}

// TestPOP3AuthPlain: SASL PLAIN (RFC 5034), inline and as a continuation.
func TestPOP3AuthPlain(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + pass))
	p := dialPOP3(t, s.Addr["pop3"])
	p.ok("AUTH PLAIN " + plain)
	p.ok("STAT")
	p.ok("QUIT")
	p = dialPOP3(t, s.Addr["pop3"])
	if l := p.do("AUTH PLAIN"); !strings.HasPrefix(l, "+ ") && l != "+" {
		t.Fatalf("AUTH PLAIN without initial response: %q", l)
	}
	if l := p.do(plain); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("AUTH PLAIN continuation: %q", l)
	}
	p.ok("QUIT")
}

// TestPOP3InUse: a second session on a locked maildrop gets -ERR [IN-USE]
// (RFC 2449 §8.1.1); after QUIT the lock is free.
func TestPOP3InUse(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	p1 := dialPOP3(t, s.Addr["pop3"])
	p1.login(alice, pass)
	p2 := dialPOP3(t, s.Addr["pop3"])
	p2.ok("USER " + alice)
	if l := p2.do("PASS " + pass); !strings.HasPrefix(l, "-ERR [IN-USE]") {
		t.Errorf("second session PASS: %q, want -ERR [IN-USE]", l)
	}
	p1.ok("QUIT")
	p3 := dialPOP3(t, s.Addr["pop3"])
	p3.login(alice, pass)
	p3.ok("QUIT")
}

// TestPOP3WrongPassword: an unknown user and a wrong password get the same
// reply, so the server does not reveal which accounts exist.
func TestPOP3WrongPassword(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	try := func(user, password string) string {
		p := dialPOP3(t, s.Addr["pop3"])
		user1 := p.do("USER " + user)
		if !strings.HasPrefix(user1, "+OK") {
			t.Errorf("USER %s: %q (USER must not reveal the account)", user, user1)
		}
		l := p.do("PASS " + password)
		p.do("QUIT")
		return l
	}
	wrong := try(alice, "wrong password here")
	unknown := try("nobody@example.test", pass)
	if !strings.HasPrefix(wrong, "-ERR") || wrong != unknown {
		t.Errorf("wrong password %q, unknown user %q: want the same -ERR", wrong, unknown)
	}
	bad := base64.StdEncoding.EncodeToString([]byte("\x00" + bob + "\x00bad password"))
	p := dialPOP3(t, s.Addr["pop3"])
	if l := p.do("AUTH PLAIN " + bad); !strings.HasPrefix(l, "-ERR") {
		t.Errorf("AUTH PLAIN with a wrong password: %q", l)
	}
	// The right password still works after a few failures.
	p = dialPOP3(t, s.Addr["pop3"])
	p.login(carol, pass)
}

// TestPOP3PasswordWithSpaces: PASS takes the rest of the line, spaces
// included (RFC 1939 §7), however many words the password has.
func TestPOP3PasswordWithSpaces(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	const spaced = "one two three four five  six"
	s.AddUser("dave@example.test", spaced)
	p := dialPOP3(t, s.Addr["pop3"])
	p.ok("USER dave@example.test")
	if l := p.do("PASS " + spaced); !strings.HasPrefix(l, "+OK") {
		t.Errorf("PASS with a six-word password: %q", l)
	}
	p.do("QUIT")
	r := runPOP3(t, s, "plain", "dave@example.test", spaced, step("stat"))
	if r.Error != nil {
		t.Errorf("poplib with a six-word password: %s", *r.Error)
	}
}

// TestPOP3TotalCap: past [pop3] max_connections a new connection is told
// -ERR [SYS/TEMP] and closed; the ones inside the cap are served.
func TestPOP3TotalCap(t *testing.T) {
	t.Parallel()
	s := mailServer(t, map[string]any{"pop3.max_connections": 2})
	var held []*rawConn
	// The harness's readiness probes may still hold a slot for a moment
	// after they hang up, so a held connection retries until it is served.
	for i := 0; i < 2; i++ {
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := dialRaw(t, s.Addr["pop3"])
			l := c.line()
			if strings.HasPrefix(l, "+OK") {
				held = append(held, c)
				break
			}
			c.c.Close()
			if !strings.HasPrefix(l, "-ERR [SYS/TEMP]") || time.Now().After(deadline) {
				t.Fatalf("connection %d: %q", i, l)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c := dialRaw(t, s.Addr["pop3"])
	if l, _ := c.tryLine(); !strings.HasPrefix(l, "-ERR [SYS/TEMP]") {
		t.Errorf("third connection: %q, want -ERR [SYS/TEMP]", l)
	}
	for _, h := range held {
		h.c.Close()
	}
}
