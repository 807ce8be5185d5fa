package adminops_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/admin"
	"postern/internal/adminops"
	"postern/internal/deliver"
	"postern/internal/deliverylog"
	"postern/internal/msgmeta"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

type fixture struct {
	st  *sqlstore.Store
	p   *deliver.Pipeline
	mux *http.ServeMux
	dir string
}

// newFixture mounts the handlers the way the admin API does, with an
// administrator in the context.
func newFixture(t *testing.T, withActor bool) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "local.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "alice@local.test", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, dir: dir, p: deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: msgmeta.Parse})}
	q := adminops.NewQueue(admin.New(st, nil, admin.Options{Hostname: "mail.local.test"}), nil)
	inner := http.NewServeMux()
	inner.Handle("GET /admin/api/queue", q.List())
	inner.Handle("GET /admin/api/queue/summary", q.Summary())
	inner.Handle("GET /admin/api/queue/{id}", q.Show())
	inner.Handle("POST /admin/api/queue/{id}/{action}", q.Action())
	f.mux = http.NewServeMux()
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if withActor {
			r = r.WithContext(admin.WithActor(r.Context(), admin.Actor{Name: "root", Remote: "127.0.0.1"}))
		}
		inner.ServeHTTP(w, r)
	})
	return f
}

func (f *fixture) send(t *testing.T, rcpts ...string) int64 {
	t.Helper()
	ctx := context.Background()
	tx := f.p.Begin(deliver.Envelope{ID: "t", Source: deliver.SourceSubmission, Sender: "alice@local.test"})
	for _, r := range rcpts {
		if err := tx.AddRecipient(ctx, r, deliver.RcptOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tx.Deliver(ctx, strings.NewReader("Subject: queued\r\nMessage-ID: <q@local.test>\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return res.QueueIDs[0]
}

func (f *fixture) do(t *testing.T, method, target string, into any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	if into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("%s %s: %v %s", method, target, err, rec.Body)
		}
	}
	return rec.Code
}

type list struct {
	Entries []adminops.Entry `json:"entries"`
}

func TestQueueHandlers(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	a := f.send(t, "bob@remote.test")
	b := f.send(t, "carol@other.test", "dave@remote.test")
	// b was tried once and deferred.
	m, _ := f.st.QueueMessage(ctx, b)
	if _, err := f.st.QueueUpdate(ctx, b, []store.QueueUpdate{{RecipientID: m.Recipients[0].ID, Status: store.QueuePending,
		Error: "451 4.3.0 later", Peer: "mx.other.test", NextAttempt: time.Now().Add(time.Hour)}}, false); err != nil {
		t.Fatal(err)
	}
	ids := func(l list) string {
		var s []string
		for _, e := range l.Entries {
			s = append(s, strconv.FormatInt(e.ID, 10)+":"+e.State)
		}
		return strings.Join(s, " ")
	}
	A, B := strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)
	for q, want := range map[string]string{
		"":                          A + ":active " + B + ":deferred",
		"?state=deferred":           B + ":deferred",
		"?state=active":             A + ":active",
		"?domain=other.test":        B + ":deferred",
		"?domain=remote.test":       A + ":active " + B + ":deferred",
		"?address=BOB@remote.test":  A + ":active",
		"?address=alice@local.test": A + ":active " + B + ":deferred",
		"?address=alice@local.test&domain=other.test": B + ":deferred",
		"?state=held": "",
	} {
		var l list
		if code := f.do(t, "GET", "/admin/api/queue"+q, &l); code != 200 || ids(l) != want {
			t.Errorf("list %s: %d %q, want %q", q, code, ids(l), want)
		}
	}
	for _, q := range []string{"?state=gone", "?address=nobody", "?x=1", "?state=held&state=active"} {
		if code := f.do(t, "GET", "/admin/api/queue"+q, nil); code != 400 {
			t.Errorf("list %s: %d, want 400", q, code)
		}
	}
	var e adminops.Entry
	if code := f.do(t, "GET", "/admin/api/queue/"+B, &e); code != 200 {
		t.Fatal(code)
	}
	if e.Sender != "alice@local.test" || len(e.Recipients) != 2 || e.Recipients[0].Attempts != 1 ||
		e.Recipients[0].LastError != "451 4.3.0 later" || e.Recipients[0].NextAttempt == nil || len(e.Header) == 0 ||
		!strings.Contains(strings.Join(e.Header, "\n"), "Subject: queued") {
		t.Errorf("show: %+v", e)
	}
	var res map[string]any
	if code := f.do(t, "POST", "/admin/api/queue/"+A+"/hold", &res); code != 200 {
		t.Fatalf("hold: %d %v", code, res)
	}
	var sum map[string]int
	f.do(t, "GET", "/admin/api/queue/summary", &sum)
	if sum["held"] != 1 || sum["deferred"] != 1 || sum["active"] != 0 {
		t.Errorf("summary %v", sum)
	}
	f.do(t, "POST", "/admin/api/queue/"+A+"/release", &res)
	f.do(t, "POST", "/admin/api/queue/"+B+"/retry", &res)
	if res["recipients_due"] != float64(2) {
		t.Errorf("retry: %v", res)
	}
	if m, _ := f.st.QueueMessage(ctx, b); m.Recipients[0].NextAttempt.After(time.Now()) {
		t.Errorf("retry did not make it due: %v", m.Recipients[0].NextAttempt)
	}
	if code := f.do(t, "POST", "/admin/api/queue/"+A+"/drop", &res); code != 200 {
		t.Fatal(code)
	}
	if code := f.do(t, "GET", "/admin/api/queue/"+A, &res); code != 404 || res["field"] != "id" {
		t.Errorf("dropped entry: %d %v", code, res)
	}
	// The actions are in the delivery log of the entry, in order.
	rows, _ := f.st.SearchLog(ctx, store.LogQuery{QueueID: a})
	var kinds []string
	for _, r := range rows {
		kinds = append([]string{string(r.Kind)}, kinds...)
	}
	if got := strings.Join(kinds, " "); got != "queued held released dropped" {
		t.Errorf("log of the entry: %s", got)
	}
	for target, code := range map[string]int{
		"/admin/api/queue/" + A + "/drop": 404, "/admin/api/queue/x/hold": 400, "/admin/api/queue/" + B + "/bounce": 404,
	} {
		if got := f.do(t, "POST", target, nil); got != code {
			t.Errorf("POST %s: %d, want %d", target, got, code)
		}
	}
	if got := f.do(t, "GET", "/admin/api/queue/"+B+"/drop", nil); got != http.StatusMethodNotAllowed {
		t.Errorf("GET of an action: %d", got)
	}
}

// A request the admin API let through without an administrator changes
// nothing.
func TestQueueActionNeedsActor(t *testing.T) {
	f := newFixture(t, false)
	id := f.send(t, "bob@remote.test")
	if code := f.do(t, "POST", "/admin/api/queue/"+strconv.FormatInt(id, 10)+"/drop", nil); code != http.StatusUnauthorized {
		t.Errorf("drop without actor: %d", code)
	}
	if _, err := f.st.QueueMessage(context.Background(), id); err != nil {
		t.Errorf("entry gone: %v", err)
	}
}

func FuzzParseQueueFilter(f *testing.F) {
	for _, s := range []string{"state=held", "domain=@a.b&address=x@y", "state=x", "x=1", "address=%00@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := adminops.ParseQueueFilter(v)
		if err != nil {
			return
		}
		switch q.State {
		case "", "active", "deferred", "held":
		default:
			t.Fatalf("state %q", q.State)
		}
		if len(q.Domain) > 320 || len(q.Address) > 320 {
			t.Fatal("filter too long")
		}
	})
}

func selfSigned(t *testing.T, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.local.test"},
		DNSNames: []string{"mail.local.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestDashboard(t *testing.T) {
	f := newFixture(t, true)
	ctx := context.Background()
	f.send(t, "bob@remote.test", "alice@local.test")
	now := time.Now()
	cert := selfSigned(t, now.Add(20*24*time.Hour+time.Hour))
	d := adminops.NewDashboard(adminops.DashboardOptions{
		Version: "1.2.3",
		Services: func() []adminops.Service {
			return []adminops.Service{{Name: "smtp", Addr: "127.0.0.1:25", Port: 25, Up: true}}
		},
		QueueCounts:   f.st.QueueCounts,
		Log:           deliverylog.New(f.st, deliverylog.Options{}),
		BodyDir:       filepath.Join(f.dir, "blobs"),
		DatabaseFiles: []string{filepath.Join(f.dir, "postern.db"), filepath.Join(f.dir, "postern.db-wal")},
		Certificates:  func() []*x509.Certificate { return []*x509.Certificate{cert} },
	})
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/admin/api/dashboard", nil).WithContext(ctx))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got adminops.Dashboard
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "1.2.3" || len(got.Services) != 1 || got.Services[0].Port != 25 || got.Queue["active"] != 1 {
		t.Errorf("dashboard %+v", got)
	}
	if len(got.PerHour) != 48 || got.PerHour[47].Received != 1 || got.PerHour[47].Delivered != 1 {
		t.Errorf("per hour: %d hours, last %+v", len(got.PerHour), got.PerHour[len(got.PerHour)-1])
	}
	if got.Disk.BodiesBytes <= 0 || got.Disk.DatabaseBytes <= 0 {
		t.Errorf("disk %+v", got.Disk)
	}
	if len(got.Certs) != 1 || got.Certs[0].DaysLeft != 20 || got.Certs[0].Names[0] != "mail.local.test" {
		t.Errorf("certs %+v", got.Certs)
	}
}
