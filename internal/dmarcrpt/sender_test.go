package dmarcrpt

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

type fakeMailer struct {
	mu   sync.Mutex
	sent map[string][][]byte
}

func (m *fakeMailer) Bounce(_ context.Context, rcpt string, body []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[rcpt] = append(m.sent[rcpt], body)
	return "queue 1", nil
}

func (m *fakeMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, l := range m.sent {
		n += len(l)
	}
	return n
}

// fakeTXT answers from a map; a name mapped to nil fails temporarily.
type fakeTXT map[string][]string

func (f fakeTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	t, ok := f[name]
	switch {
	case !ok:
		return nil, &net.DNSError{Name: name, Err: "no such host", IsNotFound: true}
	case t == nil:
		return nil, &net.DNSError{Name: name, Err: "server failure", IsTemporary: true}
	}
	return t, nil
}

func openStore(t *testing.T, dir string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenDir(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newTestSender(st store.DMARCCounts, txt fakeTXT, m *fakeMailer) *Sender {
	return NewSender(st, txt, m, Options{Organization: "mx.receiver.test", Contact: "postmaster@mx.receiver.test",
		From: "postmaster@mx.receiver.test"}, nil, func() time.Time { return testDay.Add(30 * time.Hour) })
}

// reportOf returns the XML attached to a report mail, checking the mail's
// form (RFC 7489 §7.2.1.1).
func reportOf(t *testing.T, raw []byte, domain string) []byte {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj := msg.Header.Get("Subject")
	if !strings.HasPrefix(subj, "Report Domain: "+domain+" Submitter: mx.receiver.test Report-ID: <") {
		t.Errorf("Subject %q", subj)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no application/gzip part: %v", err)
		}
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "application/gzip") {
			continue
		}
		if fn := p.FileName(); !strings.HasPrefix(fn, "mx.receiver.test!"+domain+"!") || !strings.HasSuffix(fn, ".xml.gz") {
			t.Errorf("attachment name %q", fn)
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
}

// TestSendNeverTwice: yesterday's report goes to the domain's own
// address and to a verified external one, not to an unverified one; a
// second run, and a run of a new sender on the reopened store (a
// restart), send nothing.
func TestSendNeverTwice(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	ctx := context.Background()
	if err := st.AddDMARCCounts(ctx, sampleRows()); err != nil {
		t.Fatal(err)
	}
	txt := fakeTXT{
		"_dmarc.example.com":                     {"v=DMARC1; p=reject; rua=mailto:dmarc@example.com,mailto:rua@vendor.test!1m,mailto:x@unverified.test,https://h.test/"},
		"example.com._report._dmarc.vendor.test": {"v=DMARC1"},
	}
	m := &fakeMailer{sent: map[string][][]byte{}}
	sent, err := newTestSender(st, txt, m).SendPending(ctx)
	if err != nil || len(sent) != 1 {
		t.Fatalf("sent %+v, %v", sent, err)
	}
	s := sent[0]
	// news.example.com has no record of its own: example.com's governs it
	// and its rows join example.com's report.
	if s.Domain != "example.com" || s.Rows != 3 || s.Messages != 8 || len(s.To) != 2 || s.Day != "2026-03-04" {
		t.Fatalf("sent %+v", s)
	}
	if len(m.sent["x@unverified.test"]) != 0 || len(m.sent["dmarc@example.com"]) != 1 || len(m.sent["rua@vendor.test"]) != 1 {
		t.Fatalf("mails to %v", m.sent)
	}
	var f Feedback
	if err := xml.Unmarshal(reportOf(t, m.sent["dmarc@example.com"][0], "example.com"), &f); err != nil {
		t.Fatal(err)
	}
	if f.Metadata.ReportID != s.ReportID || len(f.Records) != 3 || f.Policy.P != "reject" {
		t.Fatalf("report %+v", f)
	}

	again, err := newTestSender(st, txt, m).SendPending(ctx)
	if err != nil || len(again) != 0 || m.count() != 2 {
		t.Fatalf("second run sent %+v, %v (%d mails)", again, err, m.count())
	}
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	again, err = newTestSender(st, txt, m).SendDay(ctx, testDay)
	if err != nil || len(again) != 0 || m.count() != 2 {
		t.Fatalf("after a restart sent %+v, %v (%d mails)", again, err, m.count())
	}
}

// TestSendSkips: a domain whose record has no mailto: address, or only an
// unverified one, is done without a report; a DNS failure leaves the day
// to the next run; an address whose size limit the report exceeds gets
// nothing.
func TestSendSkips(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	rows := []store.DMARCCount{
		{Day: testDay, HeaderFrom: "norua.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 1},
		{Day: testDay, HeaderFrom: "external.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 1},
		{Day: testDay, HeaderFrom: "flaky.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 1},
		{Day: testDay, HeaderFrom: "small.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 1},
		{Day: testDay.AddDate(0, 0, 1), HeaderFrom: "today.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 1},
	}
	if err := st.AddDMARCCounts(ctx, rows); err != nil {
		t.Fatal(err)
	}
	txt := fakeTXT{
		"_dmarc.norua.test":                     {"v=DMARC1; p=none; ruf=mailto:f@norua.test"},
		"_dmarc.external.test":                  {"v=DMARC1; p=none; rua=mailto:r@elsewhere.test"},
		"_dmarc.flaky.test":                     {"v=DMARC1; p=none; rua=mailto:r@vendor.test"},
		"flaky.test._report._dmarc.vendor.test": nil,
		"_dmarc.small.test":                     {"v=DMARC1; p=none; rua=mailto:r@small.test!100"},
		"_dmarc.today.test":                     {"v=DMARC1; p=none; rua=mailto:r@today.test"},
	}
	m := &fakeMailer{sent: map[string][][]byte{}}
	sent, err := newTestSender(st, txt, m).SendPending(ctx)
	if err == nil || !strings.Contains(err.Error(), "flaky.test") || len(sent) != 0 || m.count() != 0 {
		t.Fatalf("sent %+v, %v, mails %v", sent, err, m.sent)
	}
	done, err := st.DMARCReportsDone(ctx, testDay)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range done {
		got[d.Domain] = d.ReportID != ""
	}
	// small.test's report was made (and is not made again), just not sent.
	if len(got) != 3 || got["norua.test"] || got["external.test"] || !got["small.test"] {
		t.Fatalf("done %+v", done)
	}
	txt["flaky.test._report._dmarc.vendor.test"] = []string{"v=DMARC1;"}
	sent, err = newTestSender(st, txt, m).SendPending(ctx)
	if err != nil || len(sent) != 1 || sent[0].Domain != "flaky.test" || len(m.sent["r@vendor.test"]) != 1 {
		t.Fatalf("retry sent %+v, %v", sent, err)
	}
	if len(m.sent["r@today.test"]) != 0 {
		t.Fatal("today's report went before the day ended")
	}
}

// TestSendWaitsForSubdomain: a subdomain whose record cannot be fetched
// may belong in its organisation's report, which waits for it rather
// than going without its rows.
func TestSendWaitsForSubdomain(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	rows := []store.DMARCCount{
		{Day: testDay, HeaderFrom: "org.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 3},
		{Day: testDay, HeaderFrom: "news.org.test", SourceIP: "192.0.2.2", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 4},
	}
	if err := st.AddDMARCCounts(ctx, rows); err != nil {
		t.Fatal(err)
	}
	txt := fakeTXT{"_dmarc.org.test": {"v=DMARC1; p=none; rua=mailto:r@org.test"}, "_dmarc.news.org.test": nil}
	m := &fakeMailer{sent: map[string][][]byte{}}
	if sent, err := newTestSender(st, txt, m).SendPending(ctx); err == nil || len(sent) != 0 || m.count() != 0 {
		t.Fatalf("with news.org.test unknown: sent %+v, %v", sent, err)
	}
	delete(txt, "_dmarc.news.org.test")
	sent, err := newTestSender(st, txt, m).SendPending(ctx)
	if err != nil || len(sent) != 1 || sent[0].Domain != "org.test" || sent[0].Rows != 2 || sent[0].Messages != 7 {
		t.Fatalf("sent %+v, %v", sent, err)
	}
}

// TestConsentRecordReplacesAddress: the external destination's consent
// record may name other addresses of its own domain, not of another
// (RFC 7489 §7.1 step 8).
func TestConsentRecordReplacesAddress(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	row := store.DMARCCount{Day: testDay, HeaderFrom: "shop.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "pass", Messages: 1}
	if err := st.AddDMARCCounts(ctx, []store.DMARCCount{row}); err != nil {
		t.Fatal(err)
	}
	txt := fakeTXT{
		"_dmarc.shop.test":                     {"v=DMARC1; p=none; rua=mailto:in@vendor.test"},
		"shop.test._report._dmarc.vendor.test": {"v=DMARC1; rua=mailto:shop@vendor.test,mailto:x@third.test"},
	}
	m := &fakeMailer{sent: map[string][][]byte{}}
	sent, err := newTestSender(st, txt, m).SendPending(ctx)
	if err != nil || len(sent) != 1 || len(sent[0].To) != 1 || sent[0].To[0] != "shop@vendor.test" || m.count() != 1 {
		t.Fatalf("sent %+v, %v, mails %v", sent, err, m.sent)
	}
}
