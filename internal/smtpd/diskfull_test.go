package smtpd

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"syscall"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/deliver"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// A full disk is a storage limit the client can retry on, 452 4.3.1 (RFC
// 3463), not a local error.
func TestDiskFullIs452(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.AddDomain(ctx, "example.org")
	st.AddAccount(ctx, "alice@example.org", store.Credentials{})
	full := func(r io.Reader) (store.MessageMeta, error) {
		io.Copy(io.Discard, r)
		return store.MessageMeta{}, fmt.Errorf("writing body: %w", syscall.ENOSPC)
	}
	log := slog.New(slog.DiscardHandler)
	p := deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: full, Logger: log})
	srv := New(Config{Hostname: "mx.example.org", Mode: ModeMX, TLS: &tls.Config{}, MaxMessageBytes: 1 << 20,
		MaxRecipients: 10, MaxLineLength: 2000, MaxHeaderBytes: 64 << 10, IdleTimeout: time.Minute,
		ShutdownGrace: time.Second, Pipeline: p, Auth: auth.New(st, auth.Options{}, log), Logger: log})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l, false)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("x@remote.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "452") || !strings.Contains(err.Error(), "4.3.1") {
		t.Errorf("disk full: %v, want 452 4.3.1", err)
	}
	if !store.IsDiskFull(fmt.Errorf("x: %w", syscall.ENOSPC)) || !store.IsDiskFull(fmt.Errorf("sqlite: database or disk is full (13)")) ||
		store.IsDiskFull(fmt.Errorf("other")) || store.IsDiskFull(nil) {
		t.Error("IsDiskFull")
	}
}
