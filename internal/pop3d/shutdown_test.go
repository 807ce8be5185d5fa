package pop3d

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestShutdownForced(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("DELE 1"))

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with an idle session = %v, want deadline exceeded", err)
	}
	if got := c.line(); got != "-ERR server shutting down" {
		t.Fatalf("forced close said %q", got)
	}
	c.expectClosed()
	// RFC 1939 §6: no QUIT, no UPDATE state.
	if n := len(e.store.box(1).msgs); n != 3 {
		t.Fatalf("forced close expunged: %d messages left", n)
	}
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

func TestShutdownGraceful(t *testing.T) {
	e := seeded(t)
	a := e.dial()
	a.login("alice@x", "secret")
	a.expectOK(a.cmd("DELE 1"))
	b := e.dial()

	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(context.Background()) }()
	for !e.srv.isShutdown() {
		time.Sleep(5 * time.Millisecond)
	}
	// A command other than QUIT is refused and ends the session.
	if got := b.cmd("CAPA"); got != "-ERR server shutting down" {
		t.Fatalf("command during shutdown = %q", got)
	}
	b.expectClosed()
	// QUIT is honoured, with its deletions.
	if got := a.cmd("QUIT"); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("QUIT during shutdown = %q", got)
	}
	a.expectClosed()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the sessions ended")
	}
	if n := len(e.store.box(1).msgs); n != 2 {
		t.Fatalf("QUIT during shutdown left %d messages", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	e := startServer(t, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	e.store.add(1, msgA)
	c := e.dial()
	c.login("alice@x", "secret")
	c.expectOK(c.cmd("DELE 1"))
	start := time.Now()
	c.expectClosed()
	if time.Since(start) > 3*time.Second {
		t.Fatal("idle session not closed")
	}
	e.waitUnlocked(1)
	if n := len(e.store.box(1).msgs); n != 1 {
		t.Fatalf("autologout expunged: %d left", n)
	}
	if !strings.Contains(e.logs.String(), "idle timeout") {
		t.Errorf("no idle timeout in the log:\n%s", e.logs.String())
	}
}

func TestMissingBlob(t *testing.T) {
	e := seeded(t)
	c := e.dial()
	c.login("alice@x", "secret")
	e.store.mu.Lock()
	e.store.failBlobs = true
	e.store.mu.Unlock()
	if got := c.cmd("RETR 1"); !strings.HasPrefix(got, "-ERR [SYS/TEMP]") {
		t.Fatalf("RETR of a missing blob = %q", got)
	}
	c.expectOK(c.cmd("STAT"))
}
