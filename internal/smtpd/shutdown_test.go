package smtpd

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/deliver"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// stuckFilter holds a delivery until its context ends.
type stuckFilter struct{ entered chan struct{} }

func (f stuckFilter) Filter(ctx context.Context, _ deliver.FilterInput) (deliver.FilterResult, error) {
	close(f.entered)
	<-ctx.Done()
	return deliver.FilterResult{}, ctx.Err()
}

// A delivery still in flight when the shutdown grace ends is cancelled
// through the session's context, so Shutdown returns instead of waiting
// on it.
func TestShutdownCancelsDeliveryInFlight(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.AddDomain(ctx, "example.org")
	if _, err := st.AddAccount(ctx, "alice@example.org", store.Credentials{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	f := stuckFilter{entered: make(chan struct{})}
	p := deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: parseForTest, Filter: f, Logger: log})
	svc := auth.New(st, auth.Options{}, log)
	srv := New(Config{Hostname: "mx.example.org", Mode: ModeMX, TLS: &tls.Config{}, MaxMessageBytes: 1 << 20,
		MaxRecipients: 10, MaxLineLength: 2000, MaxHeaderBytes: 64 << 10, IdleTimeout: time.Minute,
		ShutdownGrace: 200 * time.Millisecond, Pipeline: p, Auth: svc, Logger: log})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	sent := make(chan error, 1)
	go func() {
		sent <- func() error {
			c, err := smtp.Dial(l.Addr().String())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Mail("x@remote.test"); err != nil {
				return err
			}
			if err := c.Rcpt("alice@example.org"); err != nil {
				return err
			}
			w, err := c.Data()
			if err != nil {
				return err
			}
			w.Write([]byte("Subject: hi\r\n\r\nhello\r\n"))
			return w.Close()
		}()
	}()
	select {
	case <-f.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery never reached the filter")
	}
	start := time.Now()
	if err := srv.Shutdown(context.Background()); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Logf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("shutdown took %v with a delivery in flight", d)
	}
	if err := <-sent; err == nil {
		t.Error("the client was told the message was accepted")
	}
}
