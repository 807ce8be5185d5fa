package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

type fakeResolver struct{ txt map[string][]string }

func (r fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if t, ok := r.txt[name]; ok {
		return t, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (fakeResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
}

func serve(t *testing.T, certName string, h http.HandlerFunc) (port int, roots *x509.CertPool) {
	t.Helper()
	cert, roots, err := queuetest.SelfSigned(certName)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port, _ = strconv.Atoi(srv.URL[strings.LastIndexByte(srv.URL, ':')+1:])
	return port, roots
}

const goodPolicy = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 3600\n"

func TestLookupFailures(t *testing.T) {
	r := fakeResolver{txt: map[string][]string{"_mta-sts.example.test": {"v=STSv1; id=1"}}}
	for _, tc := range []struct {
		name, certName, failure string
		h                       http.HandlerFunc
	}{
		{"redirect", "mta-sts.example.test", FailFetch, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.test/", http.StatusFound)
		}},
		{"media type", "mta-sts.example.test", FailInvalid, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(goodPolicy))
		}},
		{"bad policy", "mta-sts.example.test", FailInvalid, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("version: STSv1\n"))
		}},
		{"too large", "mta-sts.example.test", FailInvalid, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(goodPolicy + strings.Repeat("#", MaxPolicySize)))
		}},
		{"certificate name", "other.test", FailWebPKI, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(goodPolicy))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, roots := serve(t, tc.certName, tc.h)
			f := New(r, nil, Options{RootCAs: roots, Port: port, Timeout: 5 * time.Second}, nil, nil)
			res := f.Lookup(context.Background(), "example.test")
			if res.Policy != nil || res.Failure != tc.failure {
				t.Fatalf("result %+v, want failure %s", res, tc.failure)
			}
		})
	}
}

func TestLookupNoRecordNoFetch(t *testing.T) {
	fetched := false
	port, roots := serve(t, "mta-sts.example.test", func(w http.ResponseWriter, r *http.Request) { fetched = true })
	f := New(fakeResolver{}, nil, Options{RootCAs: roots, Port: port}, nil, nil)
	if res := f.Lookup(context.Background(), "example.test"); res.Policy != nil || res.Failure != "" || fetched {
		t.Fatalf("result %+v, fetched %v", res, fetched)
	}
}

func TestLookupExpiryAndNewID(t *testing.T) {
	fetches := 0
	port, roots := serve(t, "mta-sts.example.test", func(w http.ResponseWriter, r *http.Request) {
		fetches++
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(goodPolicy))
	})
	r := fakeResolver{txt: map[string][]string{"_mta-sts.example.test": {"v=STSv1; id=1"}}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := New(r, nil, Options{RootCAs: roots, Port: port}, nil, func() time.Time { return now })
	ctx := context.Background()
	f.Lookup(ctx, "example.test")
	f.Lookup(ctx, "example.test")
	if fetches != 1 {
		t.Fatalf("%d fetches, want 1", fetches)
	}
	r.txt["_mta-sts.example.test"] = []string{"v=STSv1; id=2"}
	f.Lookup(ctx, "example.test")
	now = now.Add(2 * time.Hour) // past max_age
	r.txt["_mta-sts.example.test"] = []string{"v=STSv1; id=2"}
	if res := f.Lookup(ctx, "example.test"); res.Policy == nil || fetches != 3 {
		t.Fatalf("result %+v after %d fetches, want a policy after 3", res, fetches)
	}
}

// TestLookupRefreshesBeforeExpiry: past half its max_age a policy is
// fetched again with the same id; a failed refresh keeps the cached one.
func TestLookupRefreshesBeforeExpiry(t *testing.T) {
	fetches, fail := 0, false
	port, roots := serve(t, "mta-sts.example.test", func(w http.ResponseWriter, r *http.Request) {
		fetches++
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(goodPolicy))
	})
	r := fakeResolver{txt: map[string][]string{"_mta-sts.example.test": {"v=STSv1; id=1"}}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := New(r, nil, Options{RootCAs: roots, Port: port}, nil, func() time.Time { return now })
	ctx := context.Background()
	f.Lookup(ctx, "example.test")
	now = now.Add(20 * time.Minute) // under half of max_age 3600
	f.Lookup(ctx, "example.test")
	if fetches != 1 {
		t.Fatalf("%d fetches before half-life, want 1", fetches)
	}
	now = now.Add(20 * time.Minute)
	fail = true
	if res := f.Lookup(ctx, "example.test"); res.Policy == nil || fetches != 2 {
		t.Fatalf("after a failed refresh: %+v, %d fetches", res, fetches)
	}
	fail = false
	f.Lookup(ctx, "example.test")
	if fetches != 2 {
		t.Fatalf("%d fetches, want none so soon after a failure", fetches)
	}
	now = now.Add(retryFetch + time.Minute)
	f.Lookup(ctx, "example.test")
	if fetches != 3 {
		t.Fatalf("%d fetches, want the refresh retried", fetches)
	}
}
