package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

var day = time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)

func sampleRows() []store.TLSResult {
	return []store.TLSResult{
		{Day: "2026-03-04", PolicyDomain: "remote.test", PolicyType: "sts", PolicyString: "version: STSv1\nmode: enforce\nmx: mx.remote.test\nmax_age: 86400", MXHost: "mx.remote.test", ReceivingIP: "192.0.2.1", Sessions: 7},
		{Day: "2026-03-04", PolicyDomain: "remote.test", PolicyType: "sts", PolicyString: "version: STSv1\nmode: enforce\nmx: mx.remote.test\nmax_age: 86400", MXHost: "mx.remote.test", ReceivingIP: "192.0.2.1", ResultType: "certificate-expired", Sessions: 2},
		{Day: "2026-03-04", PolicyDomain: "other.test", PolicyType: "no-policy-found", MXHost: "mx.other.test", Sessions: 1},
	}
}

func TestBuildAndParse(t *testing.T) {
	r := Build(day, "remote.test", "mx.local.test", "postmaster@mx.local.test", sampleRows())
	if len(r.Policies) != 1 || r.Policies[0].Summary != (Summary{Success: 7, Failure: 2}) ||
		len(r.Policies[0].FailureDetails) != 1 || r.Policies[0].FailureDetails[0].ResultType != "certificate-expired" ||
		len(r.Policies[0].Policy.PolicyString) != 4 {
		t.Fatalf("report %+v", r)
	}
	gz, err := Gzip(r)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(zr)
	if !bytes.Contains(js, []byte(`"start-datetime":"2026-03-04T00:00:00Z"`)) || !bytes.Contains(js, []byte(`"total-successful-session-count":7`)) {
		t.Fatalf("JSON %s", js)
	}
	back, err := Parse(js)
	if err != nil || back.ReportID != r.ReportID {
		t.Fatalf("Parse: %+v, %v", back, err)
	}
	if ok, bad := back.Totals(); ok != 7 || bad != 2 {
		t.Fatalf("totals %d %d", ok, bad)
	}
}

func TestParseRecord(t *testing.T) {
	rua, err := ParseRecord([]string{"v=spf1 -all", "v=TLSRPTv1; rua=mailto:tls@remote.test,https://rpt.remote.test/in"})
	if err != nil || len(rua) != 2 {
		t.Fatalf("%v %v", rua, err)
	}
	if _, err := ParseRecord([]string{"v=TLSRPTv1; rua=ftp://x"}); err == nil {
		t.Fatal("no usable rua accepted")
	}
}

type fakeMailer struct {
	mu   sync.Mutex
	sent map[string][]byte
}

func (m *fakeMailer) Bounce(_ context.Context, rcpt string, body []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[rcpt] = body
	return "queue 1", nil
}

type fakeTXT map[string][]string

func (f fakeTXT) LookupTXT(_ context.Context, name string) ([]string, error) {
	if t, ok := f[name]; ok {
		return t, nil
	}
	return nil, &net.DNSError{Name: name, Err: "no such host", IsNotFound: true}
}

// TestSendDay: the day's report goes by mail (multipart/report with the
// gzipped JSON) and by HTTPS POST, once.
func TestSendDay(t *testing.T) {
	st, err := sqlstore.OpenDir(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, r := range sampleRows() {
		if err := st.AddTLSResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var posted []byte
	var ctype string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctype = r.Header.Get("Content-Type")
		posted, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	mailer := &fakeMailer{sent: map[string][]byte{}}
	txt := fakeTXT{"_smtp._tls.remote.test": {"v=TLSRPTv1; rua=mailto:tls-reports@remote.test," + srv.URL + "/report"}}
	s := NewSender(st, txt, mailer, Options{Organization: "mx.local.test", Contact: "postmaster@mx.local.test",
		From: "MAILER-DAEMON@mx.local.test", HTTP: srv.Client()}, nil, nil)
	sent, err := s.SendDay(ctx, day)
	if err != nil || len(sent) != 1 || len(sent[0].To) != 2 {
		t.Fatalf("sent %+v, %v", sent, err)
	}
	if ctype != "application/tlsrpt+gzip" || len(posted) == 0 {
		t.Fatalf("POST %q, %d bytes", ctype, len(posted))
	}
	msg, err := mail.ReadMessage(bytes.NewReader(mailer.sent["tls-reports@remote.test"]))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/report" || params["report-type"] != "tlsrpt" || msg.Header.Get("TLS-Report-Domain") != "remote.test" {
		t.Fatalf("header %v", msg.Header)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var found bool
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/tlsrpt+gzip") {
			gz, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			js, _ := io.ReadAll(zr)
			r, err := Parse(js)
			if err != nil || r.Policies[0].Policy.PolicyDomain != "remote.test" {
				t.Fatalf("attached report %s: %v", js, err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no application/tlsrpt+gzip part")
	}
	again, err := s.SendDay(ctx, day)
	if err != nil || len(again) != 0 {
		t.Fatalf("second SendDay sent %+v, %v", again, err)
	}
}

func FuzzParse(f *testing.F) {
	r := Build(day, "remote.test", "mx.local.test", "postmaster@mx.local.test", sampleRows())
	gz, _ := Gzip(r)
	zr, _ := gzip.NewReader(bytes.NewReader(gz))
	js, _ := io.ReadAll(zr)
	f.Add(js)
	f.Add([]byte(`{"policies":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err == nil && (r.ReportID == "" || len(r.Policies) == 0) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
