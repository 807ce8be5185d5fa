package imapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

const bobUser, bobPass = "bob@example.org", "bobsecret"

// newTwoUserEnv is a test server with alice (the test user) and bob.
func newTwoUserEnv(t *testing.T) *testEnv {
	env := newTestEnv(t, func(c *Config) { c.Auth.(*testAuth).users[bobUser] = bobPass })
	if _, err := env.st.AddAccount(context.Background(), bobUser, store.Credentials{PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	return env
}

func (e *testEnv) loginAs(user, pass string) *rawConn {
	rc := e.dial()
	rc.send("a LOGIN " + user + " " + pass)
	rc.expectTagged("a", "OK")
	return rc
}

// fetchBody returns BODY[] of message n of the selected mailbox, read as
// a literal.
func (r *rawConn) fetchBody(n int) string {
	r.t.Helper()
	r.send(fmt.Sprintf("fb FETCH %d BODY.PEEK[]", n))
	head := r.readLine()
	m := regexp.MustCompile(`\{(\d+)\}$`).FindStringSubmatch(head)
	if m == nil {
		r.t.Fatalf("FETCH %d: %q", n, head)
	}
	var size int
	fmt.Sscan(m[1], &size)
	buf := make([]byte, size)
	if _, err := ioReadFull(r.br, buf); err != nil {
		r.t.Fatal(err)
	}
	r.expectTagged("fb", "OK")
	return string(buf)
}

func ioReadFull(br *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := br.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestCatenate: APPEND CATENATE joins TEXT literals and URL parts (a
// header, a body part, a partial range past the end), also in a
// MULTIAPPEND; a URL that names nothing fails the whole APPEND with
// NO [BADURL] and stores nothing, also when a non-synchronising literal
// follows it; a missing mailbox gets TRYCREATE (RFC 4469).
func TestCatenate(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	env.deliver("INBOX", multipartMsg)
	rc := env.login()
	got := rc.expectTaggedAfter("c CAPABILITY", "c", "OK")
	if !contains(got, " CATENATE") {
		t.Fatalf("CATENATE not advertised: %q", got)
	}
	sel := rc.expectTaggedAfter("s SELECT INBOX", "s", "OK")
	var uidValidity string
	for _, l := range sel {
		if m := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(l); m != nil {
			uidValidity = m[1]
		}
	}
	rc.expectTaggedAfter("x CREATE Work", "x", "OK")

	rc.send(`a1 APPEND Work (\Draft) CATENATE (URL "/INBOX;UIDVALIDITY=` + uidValidity + `/;UID=1/;SECTION=HEADER" TEXT {8}`)
	rc.expectPrefix("+ ")
	rc.send("Body 1\r\n)")
	if got := rc.expectTagged("a1", "OK"); !strings.Contains(got[len(got)-1], "APPENDUID") {
		t.Errorf("APPEND CATENATE: %q", got)
	}
	rc.send(`a2 APPEND Work CATENATE (TEXT {18+}`)
	rc.send("Subject: forward\r\n" + ` URL "/INBOX/;UID=2/;SECTION=1" URL "/INBOX/;UID=1/;PARTIAL=100000.5")`)
	rc.expectTagged("a2", "OK")
	rc.send(`a3 APPEND Work CATENATE (URL "/INBOX/;UID=1/;SECTION=TEXT") CATENATE (TEXT {4+}`)
	rc.send(`Hi!` + "\n)")
	rc.expectTagged("a3", "OK")

	// Refusals: the APPEND stores nothing and the connection stays in step.
	rc.send(`b1 APPEND Work CATENATE (TEXT {5+}`)
	rc.send(`hello URL "/INBOX;UIDVALIDITY=1/;UID=1" TEXT {3+}`)
	rc.send(`bye)`)
	if got := rc.expectTagged("b1", "NO"); !strings.Contains(got[len(got)-1], "[BADURL /INBOX;UIDVALIDITY=1/;UID=1]") {
		t.Errorf("bad UIDVALIDITY: %q", got)
	}
	rc.expectTaggedAfter(`b2 APPEND Work CATENATE (URL "/INBOX/;UID=99")`, "b2", "NO")
	rc.expectTaggedAfter(`b3 APPEND Work CATENATE (URL "/INBOX/;UID=1/;SECTION=7")`, "b3", "NO")
	rc.expectTaggedAfter(`b4 APPEND Work CATENATE (URL "imap://example.org/INBOX/;UID=1")`, "b4", "NO")
	rc.expectTaggedAfter(`b5 APPEND Work CATENATE (URL "/INBOX/;UID=1") CATENATE (URL "/INBOX/;UID=98")`, "b5", "NO")
	if got := rc.expectTaggedAfter(`b6 APPEND Nowhere CATENATE (URL "/INBOX/;UID=1" TEXT {3+}`+"\r\nabc)", "b6", "NO"); !strings.Contains(got[len(got)-1], "[TRYCREATE]") {
		t.Errorf("missing mailbox: %q", got)
	}
	rc.expectTaggedAfter(`b7 APPEND Work CATENATE ()`, "b7", "BAD")
	rc.expectTaggedAfter("n NOOP", "n", "OK")

	rc.expectTaggedAfter("d SELECT Work", "d", "OK")
	if got := rc.expectTaggedAfter("e SEARCH ALL", "e", "OK"); got[0] != "* SEARCH 1 2 3 4" {
		t.Fatalf("Work holds %q, want the 4 messages of the 3 good APPENDs", got)
	}
	hdr := simpleMsg[:strings.Index(simpleMsg, "\r\n\r\n")+4]
	checks := []string{
		hdr + "Body 1\r\n",
		"Subject: forward\r\nSee attached.",
		"Hi Alice, meeting at noon.\r\n",
		"Hi!\n",
	}
	for i, want := range checks {
		if got := rc.fetchBody(i + 1); got != want {
			t.Errorf("message %d: %q, want %q", i+1, got, want)
		}
	}
	if got := rc.expectTaggedAfter(`f FETCH 1 FLAGS`, "f", "OK"); !strings.Contains(got[0], `\Draft`) {
		t.Errorf("flags of a CATENATE message: %q", got)
	}
	// REPLACE takes CATENATE's append-data (RFC 8508 §3.3): a draft
	// rebuilt from its old header and a new body.
	got = rc.expectTaggedAfter("r REPLACE 1 Work CATENATE (URL \"/Work/;UID=1/;SECTION=HEADER\" TEXT {6+}\r\nfresh\n)", "r", "OK")
	if !contains(got, "APPENDUID") || !contains(got, "* 1 EXPUNGE") {
		t.Errorf("REPLACE CATENATE: %q", got)
	}
	if got := rc.fetchBody(4); got != hdr+"fresh\n" {
		t.Errorf("replaced message: %q", got)
	}
}

// TestCatenateTooBig: the assembled message is held to the APPENDLIMIT
// (NO [TOOBIG]); a refused synchronising literal is never asked for.
func TestCatenateTooBig(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.AppendLimit = 100 })
	env.deliver("INBOX", simpleMsg) // 180 octets
	rc := env.login()
	rc.expectTaggedAfter(`a APPEND INBOX CATENATE (URL "/INBOX/;UID=1")`, "a", "NO [TOOBIG]")
	rc.send(`b APPEND INBOX CATENATE (TEXT {101}`)
	rc.expectTagged("b", "NO [TOOBIG]")
	rc.expectTaggedAfter("n NOOP", "n", "OK")
}

var urlauthRE = regexp.MustCompile(`^\* GENURLAUTH "([^"]+)"$`)

// genURLAuth asks for one authorised URL and returns it.
func (r *rawConn) genURLAuth(rump string) string {
	r.t.Helper()
	got := r.expectTaggedAfter(`g GENURLAUTH "`+rump+`" INTERNAL`, "g", "OK")
	m := urlauthRE.FindStringSubmatch(got[0])
	if m == nil {
		r.t.Fatalf("GENURLAUTH %s: %q", rump, got)
	}
	return m[1]
}

// urlFetch returns the one URLFETCH response line with any literal
// inlined.
func (r *rawConn) urlFetch(args string) string {
	r.t.Helper()
	r.send("u URLFETCH " + args)
	var b strings.Builder
	for {
		l := r.readLine()
		if strings.HasPrefix(l, "u ") {
			if !strings.HasPrefix(l, "u OK") {
				r.t.Fatalf("URLFETCH %s: %q", args, l)
			}
			return b.String()
		}
		b.WriteString(l)
		if m := regexp.MustCompile(`~?\{(\d+)\}$`).FindStringSubmatch(l); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			buf := make([]byte, n)
			if _, err := ioReadFull(r.br, buf); err != nil {
				r.t.Fatal(err)
			}
			b.Write(buf)
		}
	}
}

// TestURLAuth: the owner authorises URLs (GENURLAUTH); URLFETCH gives
// their octets only to whom the access identifier admits, NIL to anyone
// else, for a forged verifier, after expiry and after RESETKEY; nobody
// authorises URLs to another's mailbox (RFC 4467).
func TestURLAuth(t *testing.T) {
	env := newTwoUserEnv(t)
	env.deliver("INBOX", simpleMsg)
	alice := env.login()
	bob := env.loginAs(bobUser, bobPass)
	if got := alice.expectTaggedAfter("c CAPABILITY", "c", "OK"); !contains(got, " URLAUTH URLAUTH=BINARY") {
		t.Fatalf("URLAUTH not advertised: %q", got)
	}
	base := "imap://" + testUser + "@mail.example.org/INBOX/;UID=1"
	forBob := alice.genURLAuth(base + ";URLAUTH=user+" + bobUser)
	if !strings.HasPrefix(forBob, base+";URLAUTH=user+"+bobUser+":INTERNAL:") {
		t.Fatalf("GENURLAUTH: %q", forBob)
	}
	body := fmt.Sprintf("{%d}", len(simpleMsg)) + simpleMsg
	if got := bob.urlFetch(`"` + forBob + `"`); !strings.HasPrefix(got, `* URLFETCH "`+forBob+`" `+body) {
		t.Errorf("bob fetches his URL: %q", got)
	}
	if got := alice.urlFetch(`"` + forBob + `"`); got != `* URLFETCH "`+forBob+`" NIL` {
		t.Errorf("user+bob fetched by alice: %q", got)
	}
	forged := forBob[:len(forBob)-4] + "0000"
	if got := bob.urlFetch(`"` + forged + `"`); !strings.HasSuffix(got, " NIL") {
		t.Errorf("a forged verifier: %q", got)
	}
	anyUser := alice.genURLAuth("imap://alice@example.org/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT);URLAUTH=authuser")
	if got := bob.urlFetch(`"` + anyUser + `"`); !strings.Contains(got, "Subject: Hello there") || strings.Contains(got, "From:") {
		t.Errorf("authuser with a section: %q", got)
	}
	submit := alice.genURLAuth(base + ";URLAUTH=submit+" + testUser)
	if got := alice.urlFetch(`"` + submit + `"`); !strings.HasSuffix(got, " NIL") {
		t.Errorf("submit+ fetched by an IMAP session: %q", got)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	expired := alice.genURLAuth(base + ";EXPIRE=" + past + ";URLAUTH=authuser")
	if got := bob.urlFetch(`"` + expired + `"`); !strings.HasSuffix(got, " NIL") {
		t.Errorf("an expired URL: %q", got)
	}
	// Several URLs in one command, one response.
	if got := bob.urlFetch(`"` + forBob + `" "` + forged + `"`); !strings.HasSuffix(got, `"`+forged+`" NIL`) || !strings.Contains(got, body) {
		t.Errorf("two URLs: %q", got)
	}

	// RFC 4467 §7: a URL that fails GENURLAUTH's checks gets BAD.
	bob.expectTaggedAfter(`x GENURLAUTH "`+base+`;URLAUTH=authuser" INTERNAL`, "x", "BAD")
	alice.expectTaggedAfter(`x GENURLAUTH "`+base+`;URLAUTH=authuser" OTHER`, "x", "BAD")
	alice.expectTaggedAfter(`x GENURLAUTH "/INBOX/;UID=1;URLAUTH=authuser" INTERNAL`, "x", "BAD")
	alice.expectTaggedAfter(`x GENURLAUTH "`+base+`" INTERNAL`, "x", "BAD")
	alice.expectTaggedAfter(`x GENURLAUTH "imap://`+testUser+`@mail.example.org/INBOX/;UID=9;URLAUTH=authuser" INTERNAL`, "x", "BAD")
	alice.expectTaggedAfter(`x RESETKEY Nowhere`, "x", "NO")

	alice.expectTaggedAfter("r RESETKEY INBOX INTERNAL", "r", "OK")
	if got := bob.urlFetch(`"` + forBob + `"`); !strings.HasSuffix(got, " NIL") {
		t.Errorf("after RESETKEY: %q", got)
	}
	again := alice.genURLAuth(base + ";URLAUTH=user+" + bobUser)
	if again == forBob {
		t.Errorf("RESETKEY kept the key")
	}
	if got := bob.urlFetch(`"` + again + `"`); !strings.Contains(got, body) {
		t.Errorf("a URL made after RESETKEY: %q", got)
	}
	alice.expectTaggedAfter("r RESETKEY", "r", "OK")
	if got := bob.urlFetch(`"` + again + `"`); !strings.HasSuffix(got, " NIL") {
		t.Errorf("after RESETKEY of all mailboxes: %q", got)
	}
	// A CATENATE of bob's may use alice's URL authorised for him.
	grant := alice.genURLAuth(base + ";URLAUTH=user+" + bobUser)
	bob.expectTaggedAfter(`p APPEND INBOX CATENATE (URL "`+grant+`")`, "p", "OK")
	bob.expectTaggedAfter(`q APPEND INBOX CATENATE (URL "`+base+`")`, "q", "NO [BADURL")
}

// TestURLFetchBinary: URLAUTH=BINARY (RFC 5524) gives a part decoded
// (BINARY) with its structure (BODYPARTSTRUCTURE, sized as decoded, with
// the encoding it had), or the raw octets (BODY) with the structure as
// stored.
func TestURLFetchBinary(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", multipartMsg)
	rc := env.login()
	u := rc.genURLAuth("imap://" + testUser + "@mail.example.org/INBOX/;UID=1/;SECTION=2;URLAUTH=authuser")
	got := rc.urlFetch(`("` + u + `" BINARY BODYPARTSTRUCTURE)`)
	want := `* URLFETCH "` + u + `" (BODYPARTSTRUCTURE ("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 3 NIL ("attachment" ("filename" "a.bin")) NIL NIL) BINARY ~{3}` + "\x00\x01\x02)"
	if got != want {
		t.Errorf("URLFETCH BINARY:\n got %q\nwant %q", got, want)
	}
	got = rc.urlFetch(`("` + u + `" BODYPARTSTRUCTURE BODY)`)
	want = `* URLFETCH "` + u + `" (BODYPARTSTRUCTURE ("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 4 NIL ("attachment" ("filename" "a.bin")) NIL NIL) BODY {4}AAEC)`
	if got != want {
		t.Errorf("URLFETCH BODY:\n got %q\nwant %q", got, want)
	}
	whole := rc.genURLAuth("imap://" + testUser + "@mail.example.org/INBOX/;UID=1;URLAUTH=authuser")
	got = rc.urlFetch(`("` + whole + `" BINARY)`)
	if !strings.Contains(got, "Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\r\n--XX--") {
		t.Errorf("BINARY of a whole message: %q", got)
	}
}

// FuzzIMAPURL: the URL parser never panics, and what it accepts names a
// message, with a rump that is a prefix of the URL.
func FuzzIMAPURL(f *testing.F) {
	for _, s := range []string{
		"/INBOX/;UID=1",
		"/INBOX;UIDVALIDITY=5/;UID=2/;SECTION=1.2.MIME/;PARTIAL=0.10",
		"imap://joe@example.org/a%20b/;UID=3;URLAUTH=user+fred:INTERNAL:0123456789abcdef0123456789abcdef",
		"imap://joe@example.org/INBOX/;uid=3/;section=HEADER.FIELDS%20(FROM);expire=2030-01-01T00:00:00Z;urlauth=anonymous",
		"imap://;AUTH=*@h/INBOX/;UID=1;URLAUTH=submit+x@y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseIMAPURL(s)
		if err != nil {
			return
		}
		if u.uid == 0 || u.mailbox == "" {
			t.Fatalf("%q: accepted without a message: %+v", s, u)
		}
		if u.access != "" && !strings.HasPrefix(s, u.rump) {
			t.Fatalf("%q: rump %q is no prefix", s, u.rump)
		}
		parseURLSection(u.section)
	})
}

// FuzzCatenate: an APPEND with CATENATE parts, read as the session does,
// never panics and never reads past its input.
func FuzzCatenate(f *testing.F) {
	for _, s := range []string{
		"a APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\" TEXT {3}\r\nabc)\r\n",
		"a APPEND INBOX (\\Seen) CATENATE (TEXT ~{2+}\r\nab URL x) CATENATE (URL y)\r\n",
		"a APPEND INBOX CATENATE ()\r\n",
		"a REPLACE 1 INBOX CATENATE (URL {5}\r\n/a/;u)\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := newParser(bufio.NewReader(strings.NewReader(s)), nil)
		c, err := parseCommand(p)
		if err != nil || !c.app.catenate {
			return
		}
		for i := 0; i < maxCatenateParts; i++ {
			part, done, err := p.catenatePart(i == 0)
			if err != nil || done {
				return
			}
			if part.text && part.size > 0 {
				if part.size > int64(len(s)) {
					return // the session checks the size first
				}
				buf := make([]byte, part.size)
				if _, err := ioReadFull(p.r, buf); err != nil {
					return
				}
			}
		}
	})
}

// TestURLMech: SELECT and RESETKEY name the URLAUTH mechanisms (URLMECH,
// RFC 4467 §8) only on a connection protected from snooping.
func TestURLMech(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.TLS = testTLSConfig(t) })
	plain := env.login()
	if got := plain.expectTaggedAfter("s SELECT INBOX", "s", "OK"); contains(got, "URLMECH") {
		t.Errorf("URLMECH in the clear: %q", got)
	}
	rc := env.dial()
	rc.send("t STARTTLS")
	rc.expectTagged("t", "OK")
	tc := tls.Client(rc.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	sec := &rawConn{t: t, c: tc, br: bufio.NewReader(tc)}
	sec.expectTaggedAfter("a LOGIN "+testUser+" "+testPass, "a", "OK")
	if got := sec.expectTaggedAfter("s SELECT INBOX", "s", "OK"); !contains(got, "* OK [URLMECH INTERNAL]") {
		t.Errorf("SELECT over TLS: %q", got)
	}
	if got := sec.expectTaggedAfter("r RESETKEY INBOX", "r", "OK"); !strings.HasPrefix(got[len(got)-1], "r OK [URLMECH INTERNAL]") {
		t.Errorf("RESETKEY over TLS: %q", got)
	}
}

// TestParseIMAPURL: the parts of URLs as clients write them (RFC 5092,
// RFC 4467 §3), and what is refused.
func TestParseIMAPURL(t *testing.T) {
	u, err := parseIMAPURL("imap://joe@Example.COM:143/INBOX%2FSub;UIDVALIDITY=7/;uid=20/;section=1.2/;partial=5.10;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=submit+fred:internal:91354a473744909de610943775f92038")
	if err != nil {
		t.Fatal(err)
	}
	if u.user != "joe" || u.host != "example.com" || u.mailbox != "INBOX/Sub" || u.uidValidity != 7 || u.uid != 20 ||
		u.section != "1.2" || !u.partial || u.start != 5 || u.count != 10 || u.expire.Year() != 2030 ||
		u.access != "submit+fred" || u.mechanism != "INTERNAL" || u.verifier != "91354a473744909de610943775f92038" ||
		!strings.HasSuffix(u.rump, ";URLAUTH=submit+fred") {
		t.Errorf("parsed %+v", u)
	}
	for _, bad := range []string{
		"", "INBOX/;UID=1", "/INBOX", "/INBOX/;UID=0", "/INBOX/;UID=x", "/INBOX?SUBJECT%20x/;UID=1",
		"imap:///INBOX/;UID=1", "/INBOX/;UID=1;URLAUTH=nobody", "/INBOX/;UID=1;URLAUTH=user+",
		"/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:abc", "/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z",
		"/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1 trailing", "/INBOX;UIDVALIDITY=0/;UID=1",
	} {
		if _, err := parseIMAPURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestURLFetchParams: the RFC 5524 parameters are checked (each at most
// once, not BODY with BINARY, no unknown one); a parenthesised URL without
// any gives BODY.
func TestURLFetchParams(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	rc := env.login()
	u := rc.genURLAuth("imap://" + testUser + "@mail.example.org/INBOX/;UID=1/;SECTION=TEXT;URLAUTH=authuser")
	if got := rc.urlFetch(`("` + u + `")`); got != `* URLFETCH "`+u+`" (BODY {28}Hi Alice, meeting at noon.`+"\r\n)" {
		t.Errorf("no parameters: %q", got)
	}
	for _, params := range []string{"BODY BINARY", "BINARY BINARY", "OTHER"} {
		rc.expectTaggedAfter(`x URLFETCH ("`+u+`" `+params+`)`, "x", "BAD")
	}
	rc.expectTaggedAfter("x URLFETCH", "x", "BAD")
	rc.expectTaggedAfter("x GENURLAUTH", "x", "BAD")
}
