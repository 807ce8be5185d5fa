package deliver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"postern/internal/authcheck"
	"postern/internal/queue/queuetest"
	"postern/internal/resolve"
	"postern/internal/store"
)

// recorder keeps the refusals and counts the pipeline reports.
type recorder struct {
	events []store.LogEvent
	counts []authcheck.Count
}

func (r *recorder) Record(ev store.LogEvent)     { r.events = append(r.events, ev) }
func (r *recorder) Add(counts []authcheck.Count) { r.counts = append(r.counts, counts...) }

// checkedFixture is a fixture whose pipeline checks mail from port 25
// against a loopback DNS with DMARC records for reject.test and
// junk.test.
func checkedFixture(t testing.TB, filter Filter) (*fixture, *recorder) {
	f := newFixture(t, filter)
	d := queuetest.StartDNS(t)
	d.Add(t, `_dmarc.reject.test. 300 TXT "v=DMARC1; p=reject"`, `_dmarc.junk.test. 300 TXT "v=DMARC1; p=quarantine"`)
	rec := &recorder{}
	checks := authcheck.New(authcheck.Options{Resolver: resolve.New(resolve.Options{Servers: []string{d.Addr}}),
		Hostname: "mx.example.test", IsLocal: f.p.IsLocalDomain})
	f.p.SetChecks(checks)
	f.p.authservID, f.p.counts, f.p.rec = "mx.example.test", rec, rec
	return f, rec
}

func (f *fixture) receive(from string, msg string) (Result, error) {
	f.t.Helper()
	tx := f.p.Begin(Envelope{ID: "t1", Source: SourceMX, Sender: from, RemoteIP: netip.MustParseAddr("192.0.2.7"), Helo: "h.test"})
	if err := tx.AddRecipient(context.Background(), "alice@example.test", RcptOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return tx.Deliver(context.Background(), strings.NewReader(msg))
}

func TestVerdictRefusesAndRecords(t *testing.T) {
	f, rec := checkedFixture(t, nil)
	_, err := f.receive("x@reject.test", "From: <a@reject.test>\r\nSubject: s\r\n\r\nbody\r\n")
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Temporary || !strings.Contains(pe.Reason, "reject.test") {
		t.Fatalf("p=reject: err %v; want a permanent PolicyError", err)
	}
	if len(rec.events) != 1 || rec.events[0].Kind != store.LogRejected || !strings.Contains(rec.events[0].Detail, "dmarc=fail(reject.test)") {
		t.Errorf("refusal rows %+v", rec.events)
	}
	if len(rec.counts) != 1 || rec.counts[0].Disposition != "reject" || rec.counts[0].SourceIP != "192.0.2.7" {
		t.Errorf("counts %+v", rec.counts)
	}
	if n := len(f.inbox(f.alice, "INBOX")); n != 0 {
		t.Errorf("INBOX holds %d", n)
	}
	_, err = f.receive("x@remote.test", "From: <alice@example.test>\r\n\r\nforged\r\n")
	if !errors.As(err, &pe) || pe.Temporary {
		t.Errorf("forged local From: err %v; want a permanent PolicyError", err)
	}
}

func TestVerdictHeaderAndJunk(t *testing.T) {
	seen := &headerSpy{}
	f, _ := checkedFixture(t, seen)
	msg := "Authentication-Results: MX.example.test (forged); dkim=pass\r\n" +
		"Authentication-Results: elsewhere.test; dkim=pass\r\nFrom: <a@fine.test>\r\nSubject: s\r\n\r\nbody\r\n"
	if _, err := f.receive("x@fine.test", msg); err != nil {
		t.Fatal(err)
	}
	got := f.body(f.inbox(f.alice, "INBOX")[0].BlobID)
	if !strings.Contains(seen.body, "Authentication-Results: mx.example.test;") {
		t.Errorf("the filter did not see our Authentication-Results:\n%s", seen.body)
	}
	if !strings.HasPrefix(got, "Return-Path: <x@fine.test>\r\nAuthentication-Results: mx.example.test;\r\n\t") ||
		strings.Contains(got, "(forged)") || !strings.Contains(got, "elsewhere.test; dkim=pass") || !strings.HasSuffix(got, "\r\n\r\nbody\r\n") {
		t.Errorf("stored message:\n%s", got)
	}

	// Quarantine: to the \Junk mailbox, whatever its name; made when gone.
	ctx := context.Background()
	if err := f.st.RenameMailbox(ctx, f.alice.ID, "Junk", "Spam"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.receive("x@junk.test", "From: <a@junk.test>\r\n\r\nq1\r\n"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.inbox(f.alice, "Spam")); n != 1 {
		t.Errorf("Spam (\\Junk) holds %d; want the quarantined message", n)
	}
	if err := f.st.DeleteMailbox(ctx, f.alice.ID, "Spam"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.receive("x@junk.test", "From: <a@junk.test>\r\n\r\nq2\r\n"); err != nil {
		t.Fatal(err)
	}
	mb, err := f.st.Mailbox(ctx, f.alice.ID, "Junk")
	if err != nil || mb.SpecialUse != store.SpecialJunk {
		t.Errorf("Junk made again: %+v, %v; want it with \\Junk", mb, err)
	}
	if n := len(f.inbox(f.alice, "INBOX")); n != 1 {
		t.Errorf("INBOX holds %d; want only the first message", n)
	}
}

// headerSpy is a filter that keeps the last message it saw.
type headerSpy struct{ body string }

func (h *headerSpy) Filter(_ context.Context, in FilterInput) (FilterResult, error) {
	rc, err := in.Message.Body.Open()
	if err != nil {
		return FilterResult{}, err
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	h.body = string(b)
	return FilterResult{}, nil
}

// TestKeptHeader: only Authentication-Results fields naming us go, in any
// case and anywhere in the header; a message without one is left as it
// came (and not copied); the body is never looked at.
func TestKeptHeader(t *testing.T) {
	p := New(Options{AuthservID: "mx.example.test"})
	tx := p.Begin(Envelope{ID: "k1", Source: SourceMX})
	long := "X-Long: " + strings.Repeat("a", 5000) + "\r\n"
	for _, tc := range []struct{ name, msg, want string }{
		{"none", "From: a@b.test\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example.test; dkim=pass\r\n", ""},
		{"another server's", "authentication-results: elsewhere.test; spf=pass\r\nFrom: a@b.test\r\n\r\nbody\r\n", ""},
		{"ours, folded, lower case", "From: a@b.test\r\nauthentication-RESULTS: MX.example.test;\r\n\tdkim=pass\r\nSubject: s\r\n\r\nbody\r\n",
			"From: a@b.test\r\nSubject: s\r\n"},
		{"ours after a long line", long + "Authentication-Results: mx.example.test; spf=pass\r\n\r\nbody\r\n", long},
		{"only a header", "Authentication-Results: mx.example.test; spf=pass\r\nFrom: a@b.test\r\n", "From: a@b.test\r\n"},
		{"ours after a line that is no field", "junk line\r\nAuthentication-Results : mx.example.test; dmarc=pass\r\nFrom: a@b.test\r\n\r\nbody\r\n",
			"junk line\r\nFrom: a@b.test\r\n"},
		{"ours first, after a continuation", " stray\r\nAuthentication-Results: mx.example.test; dkim=pass\r\n\r\nbody\r\n", " stray\r\n"},
	} {
		sp := &spool{buffers: &p.spools}
		if err := sp.fill(strings.NewReader(tc.msg)); err != nil {
			t.Fatal(err)
		}
		head, n := tx.keptHeader(sp)
		if string(head) != tc.want {
			t.Errorf("%s: kept %q; want %q", tc.name, head, tc.want)
		}
		if tc.want != "" {
			// What follows the replaced section is the empty line and the body.
			if rest := tc.msg[n:]; rest != "" && !strings.HasPrefix(rest, "\r\n") {
				t.Errorf("%s: the section replaced ends at %d, before %q", tc.name, n, rest)
			}
		} else if n != 0 {
			t.Errorf("%s: nothing kept, yet a section of %d bytes replaced", tc.name, n)
		}
		sp.close()
	}
}

// FuzzKeptHeader: whatever the header, the edit only removes: what it
// keeps is shorter than the section it replaces, and ends on a line
// unless the message ends within it.
func FuzzKeptHeader(f *testing.F) {
	f.Add([]byte("Authentication-Results: mx.example.test; spf=pass\r\nFrom: a@b.test\r\n\r\nbody\r\n"))
	f.Add([]byte("authentication-results:mx.example.test\r\n\tdkim=pass\r\n"))
	f.Add([]byte("From: a\r\n\r\n"))
	p := New(Options{AuthservID: "mx.example.test"})
	tx := p.Begin(Envelope{ID: "f1", Source: SourceMX})
	f.Fuzz(func(t *testing.T, msg []byte) {
		sp := &spool{buffers: &p.spools}
		if err := sp.fill(bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		defer sp.close()
		head, n := tx.keptHeader(sp)
		if n < 0 || n > int64(len(msg)) || (n == 0 && head != nil) || (n > 0 && int64(len(head)) >= n) {
			t.Fatalf("kept %d bytes for a section of %d in a message of %d", len(head), n, len(msg))
		}
		if len(head) > 0 && head[len(head)-1] != '\n' && n != int64(len(msg)) {
			t.Fatalf("kept header ends mid-line: %q", head)
		}
	})
}
