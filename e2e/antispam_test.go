package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
	"postern/internal/srs"
)

// smtpFrom dials the MX port from the loopback address local (all of
// 127.0.0.0/8 is this machine), so one test can play several clients;
// it reads the greeting and says EHLO.
func smtpFrom(t testing.TB, local, addr string) *rawConn {
	t.Helper()
	c := dialFrom(t, local, addr)
	if code, text := c.reply(); code != 220 {
		t.Fatalf("greeting to %s: %d %s", local, code, text)
	}
	c.expect("EHLO client.ext.test", 250)
	return c
}

func dialFrom(t testing.TB, local, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// sendFrom runs one whole transaction from local and fails unless the
// message is accepted.
func sendFrom(t testing.TB, local, addr, from, to string) {
	t.Helper()
	c := smtpFrom(t, local, addr)
	c.expect("MAIL FROM:<"+from+">", 250)
	c.expect("RCPT TO:<"+to+">", 250)
	c.expect("DATA", 354)
	c.expect(testMessage(from, to, uniq(), "hello")+".", 250)
	c.cmd("QUIT")
}

// metricsText scrapes the admin listener's Prometheus exposition.
func metricsText(t testing.TB, s *Server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr["admin"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	return string(b)
}

// TestDNSBLRefusesListedClient: a client whose address a configured zone
// lists (answered by a test DNS server) gets 554 5.7.1 at RCPT with the
// zone's TXT reason; an unlisted client and one the zone answers with an
// error code (127.255.255.x) get through. The refusal is logged once and
// counted in the metrics.
func TestDNSBLRefusesListedClient(t *testing.T) {
	dns := queuetest.StartDNS(t)
	dns.Add(t,
		"2.0.0.127.bl.test. A 127.0.0.2",
		`2.0.0.127.bl.test. TXT "Listed: see https://bl.test/lookup?ip=127.0.0.2"`,
		"3.0.0.127.bl.test. A 127.255.255.254",
	)
	s := mailServer(t, map[string]any{
		"antispam.dnsbl":          []string{"bl.test"},
		"antispam.check_loopback": true,
		"dns.servers":             []string{dns.Addr},
	})
	c := smtpFrom(t, "127.0.0.2", s.Addr["smtp"])
	c.expect("MAIL FROM:<spam@ext.test>", 250)
	code, text := c.cmd("RCPT TO:<" + alice + ">")
	if code != 554 || !strings.Contains(text, "5.7.1") || !strings.Contains(text, "bl.test: Listed: see https://bl.test/lookup?ip=127.0.0.2") {
		t.Fatalf("listed client at RCPT: %d %s", code, text)
	}
	c.expect("RCPT TO:<"+bob+">", 554)
	if code, text := c.cmd("DATA"); code < 500 {
		t.Errorf("DATA without a recipient: %d %s", code, text)
	}
	c.cmd("QUIT")

	// Python's smtplib after STARTTLS: the gate still knows the client.
	var res struct {
		OK      bool
		Refused map[string][]any
		Error   any
	}
	runPy(t, "smtp_send.py", map[string]any{"host": "127.0.0.1", "port": port(t, s.Addr["smtp"]), "source": "127.0.0.2",
		"starttls": true, "from": "spam@ext.test", "to": []string{alice}, "msg": testMessage("spam@ext.test", alice, uniq(), "x")}, &res)
	if r := res.Refused[alice]; len(r) != 2 || r[0] != float64(554) || !strings.Contains(fmt.Sprint(r[1]), "blocked using bl.test") {
		t.Fatalf("smtplib over STARTTLS from a listed address: ok=%v refused=%v error=%v", res.OK, res.Refused, res.Error)
	}

	sendFrom(t, "127.0.0.1", s.Addr["smtp"], "friend@ext.test", alice)
	sendFrom(t, "127.0.0.3", s.Addr["smtp"], "friend@ext.test", bob)

	line, ok := s.WaitLog(5*time.Second, "antispam refusal", "reason=dnsbl", "remote=127.0.0.2", "zone=bl.test", "answer=127.0.0.2")
	if !ok {
		t.Fatalf("no log line for the listing:\n%s", tail(s.Logs(), 4<<10))
	}
	if n := strings.Count(s.Logs(), "reason=dnsbl"); n != 2 {
		t.Errorf("%d log lines for two listed connections, want one each: %s", n, line)
	}
	if m := metricsText(t, s); !strings.Contains(m, `postern_smtp_rejections_total{reason="dnsbl"} 3`) {
		t.Errorf("metrics do not count the three refused recipients:\n%s", grepLines(m, "rejections"))
	}
}

// TestPort25RateLimits: per client address, the connections of a minute
// (421 4.7.0 instead of the greeting) and the messages of an hour (451
// 4.7.1 at MAIL); per sender domain, the messages of an hour from every
// client together. Authenticated submission from the same address is
// not limited by any of them.
func TestPort25RateLimits(t *testing.T) {
	s := mailServer(t, map[string]any{
		"antispam.check_loopback":                  true,
		"antispam.connections_per_minute":          4,
		"antispam.messages_per_hour":               2,
		"antispam.sender_domain_messages_per_hour": 3,
	})
	addr := s.Addr["smtp"]
	sendFrom(t, "127.0.0.2", addr, "news@bulk.test", alice)
	sendFrom(t, "127.0.0.2", addr, "other@ext.test", alice)
	c := smtpFrom(t, "127.0.0.2", addr)
	code, text := c.cmd("MAIL FROM:<other@ext.test>")
	if code != 451 || !strings.Contains(text, "4.7.1") || !strings.Contains(text, "messages from your address (limit 2 per hour)") {
		t.Fatalf("3rd message in an hour: %d %s", code, text)
	}
	c.cmd("QUIT")
	c = smtpFrom(t, "127.0.0.2", addr) // the 4th connection of the minute
	c.cmd("QUIT")
	refused := dialFrom(t, "127.0.0.2", addr)
	if l, _ := refused.tryLine(); !strings.HasPrefix(l, "421 4.7.0 ") || !strings.Contains(l, "limit 4 per minute") {
		t.Fatalf("5th connection in a minute: %q", l)
	}
	if _, ok := refused.tryLine(); ok {
		t.Error("the refused connection stayed open")
	}

	// bulk.test has sent 1; two more from another address, then the limit.
	sendFrom(t, "127.0.0.3", addr, "news@bulk.test", alice)
	sendFrom(t, "127.0.0.4", addr, "news@Bulk.Test", alice)
	c = smtpFrom(t, "127.0.0.5", addr)
	code, text = c.cmd("MAIL FROM:<news@bulk.test>")
	if code != 451 || !strings.Contains(text, "sender domain bulk.test (limit 3 per hour)") {
		t.Fatalf("4th message of bulk.test: %d %s", code, text)
	}
	c.expect("MAIL FROM:<someone@ext.test>", 250)
	c.cmd("QUIT")

	for i := range 3 {
		if err := submit(s.Addr["submission"], alice, pass, alice, []string{bob}, testMessage(alice, bob, uniq(), "sub")); err != nil {
			t.Fatalf("submission %d limited: %v", i+1, err)
		}
	}
	m := metricsText(t, s)
	for _, want := range []string{`reason="rate_connections"} 1`, `reason="rate_messages"} 1`, `reason="rate_sender_domain"} 1`} {
		if !strings.Contains(m, "postern_smtp_rejections_total{"+want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "rejections"))
		}
	}
	for _, reason := range []string{"rate_connections", "rate_messages", "rate_sender_domain"} {
		if _, ok := s.WaitLog(time.Second, "antispam refusal", "reason="+reason); !ok {
			t.Errorf("no log line for %s", reason)
		}
	}
}

// TestGreylistingSurvivesRestart: with greylisting on (2 s here), a new
// (network, sender, recipient) gets 451 4.7.1 with the wait; an unknown
// recipient gets its 550 at once. The triplet is on disk: after a
// restart, a retry past the delay is accepted and delivered, and the
// pass is kept, while a new sender still waits.
func TestGreylistingSurvivesRestart(t *testing.T) {
	s := mailServer(t, map[string]any{
		"antispam.check_loopback":   true,
		"antispam.greylist.enabled": true,
		"antispam.greylist.delay":   "2s",
	})
	id := uniq()
	first := time.Now()
	c := smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<list-17@ext.test>", 250)
	code, text := c.cmd("RCPT TO:<" + alice + ">")
	if code != 451 || !strings.Contains(text, "4.7.1") || !strings.Contains(text, "try again in 2 seconds") {
		t.Fatalf("first attempt: %d %s", code, text)
	}
	c.expect("RCPT TO:<nobody@example.test>", 550)
	c.cmd("QUIT")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	time.Sleep(time.Until(first.Add(2100 * time.Millisecond)))

	c = smtpSession(t, s.Addr["smtp"])
	c.expect("MAIL FROM:<list-18@ext.test>", 250) // a new VERP number, the same sender
	c.expect("RCPT TO:<"+alice+">", 250)
	c.expect("DATA", 354)
	c.expect(testMessage("list@ext.test", alice, id, "after the wait")+".", 250)
	c.expect("MAIL FROM:<stranger@ext.test>", 250)
	c.expect("RCPT TO:<"+alice+">", 451)
	c.cmd("QUIT")
	if n := len(findByID(fetchAll(t, s, alice, pass), id)); n != 1 {
		t.Fatalf("alice has %d copies, want 1", n)
	}
	if _, ok := s.WaitLog(time.Second, "greylist passed", "network=127.0.0.0/24", "rcpt="+alice); !ok {
		t.Errorf("no log line for the pass:\n%s", tail(s.Logs(), 4<<10))
	}
	if m := metricsText(t, s); !strings.Contains(m, `postern_smtp_rejections_total{reason="greylist"} 1`) {
		t.Errorf("metrics after the restart:\n%s", grepLines(m, "rejections"))
	}
}

// TestSRSBounceReturnsToSender: mail forwarded by an alias to a remote
// address leaves from an SRS address of ours; the remote side's bounce
// to that address is accepted on port 25 and goes back to the original
// sender, who gets it. A forged or an expired SRS address is refused.
func TestSRSBounceReturnsToSender(t *testing.T) {
	dns := queuetest.StartDNS(t)
	b := startServer(t, Options{Hostname: "mx.remote.test", Domains: []string{"remote.test", "ext.test"},
		Users: map[string]string{"bob@remote.test": "bob-pass-1", "sender@ext.test": "sender-pass-1"}})
	dns.Add(t, "remote.test. MX 10 mx.remote.test.", "ext.test. MX 10 mx.remote.test.", "mx.remote.test. A 127.0.0.1")
	a := senderServer(t, dns.Addr, port(t, b.Addr["smtp"]), nil)
	a.CLI("", "alias", "add", "team@example.test", "bob@remote.test").mustOK(t)

	id := uniq()
	// The From is not ext.test: the remote hosts ext.test, and an
	// unauthenticated From of its own domain arriving on port 25 would be
	// refused there (its inbound checks); the envelope is what SRS is about.
	mustSend(t, a.Addr["smtp"], "sender@ext.test", []string{"team@example.test"}, testMessage("sender@elsewhere.test", "team@example.test", id, "forward me"))
	line, ok := b.WaitLog(20*time.Second, "message accepted", "SRS0=")
	if !ok {
		t.Fatalf("the remote never got the forward from an SRS address; its log:\n%s", tail(b.Logs(), 4<<10))
	}
	srsAddr := between(line, `from="`, `"`)
	if srsAddr == "" {
		srsAddr = between(line, "from=", " ")
	}
	if !strings.HasSuffix(srsAddr, "@example.test") || !strings.Contains(srsAddr, "=ext.test=sender") {
		t.Fatalf("SRS sender %q", srsAddr)
	}

	// The remote bounces it: a DSN from the null sender to the SRS address.
	bounceID := uniq()
	c := smtpSession(t, a.Addr["smtp"])
	c.expect("MAIL FROM:<>", 250)
	c.expect("RCPT TO:<"+srsAddr+">", 250)
	c.expect("DATA", 354)
	c.expect(dsnMessage(srsAddr, bounceID, id)+".", 250)

	// Forged: a hash that is not ours. Expired: our key, 30 days ago.
	c.expect("MAIL FROM:<>", 250)
	code, text := c.cmd("RCPT TO:<SRS0=AAAA=AA=ext.test=sender@example.test>")
	if code != 550 || !strings.Contains(text, "Invalid or expired SRS bounce address") {
		t.Errorf("forged SRS address: %d %s", code, text)
	}
	old := srs.New(readSRSKey(t, a), "example.test")
	old.SetClock(func() time.Time { return time.Now().Add(-30 * 24 * time.Hour) })
	expired := old.Forward("sender@ext.test")
	if code, text := c.cmd("RCPT TO:<" + expired + ">"); code != 550 || !strings.Contains(text, "SRS") {
		t.Errorf("expired SRS address %s: %d %s", expired, code, text)
	}
	fresh := srs.New(readSRSKey(t, a), "example.test").Forward("sender@ext.test")
	c.expect("RCPT TO:<"+fresh+">", 250) // our key today: the test computes what the server does
	c.cmd("QUIT")

	if _, ok := a.WaitLog(time.Second, "srs address refused", "reason=forged"); !ok {
		t.Errorf("no log line for the forged SRS address")
	}
	if _, ok := a.WaitLog(time.Second, "srs address refused", "reason=expired"); !ok {
		t.Errorf("no log line for the expired SRS address:\n%s", tail(a.Logs(), 2<<10))
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		got := findByID(fetchAll(t, b, "sender@ext.test", "sender-pass-1"), bounceID)
		if len(got) == 1 {
			if !strings.Contains(got[0].Text, "Return-Path: <>") || !strings.Contains(got[0].Text, id) {
				t.Errorf("the bounce the sender got:\n%s", got[0].Text)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the original sender never got the bounce; sender's log:\n%s", tail(a.Logs(), 4<<10))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(fetchAll(t, b, "bob@remote.test", "bob-pass-1")); n != 1 {
		t.Errorf("bob has %d messages, want the forward only", n)
	}
}

// dsnMessage is a delivery status notification (RFC 3464) for the
// message with Message-ID <origID@e2e.test>, to rcpt.
func dsnMessage(rcpt, id, origID string) string {
	var b strings.Builder
	b.WriteString("From: Mail Delivery System <MAILER-DAEMON@mx.remote.test>\r\nTo: <" + rcpt + ">\r\n")
	b.WriteString("Subject: Undelivered Mail Returned to Sender " + id + "\r\n")
	b.WriteString("Message-ID: <" + id + "@e2e.test>\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: text/plain\r\n\r\nbob@remote.test: mailbox full\r\n")
	b.WriteString("--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.remote.test\r\n\r\n")
	b.WriteString("Final-Recipient: rfc822; bob@remote.test\r\nAction: failed\r\nStatus: 5.2.2\r\n")
	b.WriteString("--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + origID + "@e2e.test>\r\n")
	b.WriteString("--b1--\r\nEND-OF-MESSAGE " + id + "\r\n")
	return b.String()
}

// readSRSKey reads the key the server made at its first start.
func readSRSKey(t testing.TB, s *Server) []byte {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(s.Dir, "*", "srs.key"))
	matches = append([]string{filepath.Join(s.Dir, "srs.key")}, matches...)
	for _, p := range matches {
		if key, err := os.ReadFile(p); err == nil {
			return key
		}
	}
	t.Fatalf("no srs.key under %s", s.Dir)
	return nil
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
