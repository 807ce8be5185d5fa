package managesieve

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestShutdownForced(t *testing.T) {
	e := startServer(t, nil)
	c := e.dial()
	c.login("alice@x", "secret")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with an idle session = %v, want deadline exceeded", err)
	}
	if got := c.line(); got != `BYE "Server shutting down"` {
		t.Fatalf("forced close said %q", got)
	}
	c.expectClosed()
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

func TestShutdownGraceful(t *testing.T) {
	e := startServer(t, nil)
	a := e.dial()
	a.login("alice@x", "secret")
	b := e.dial()

	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(context.Background()) }()
	for !e.srv.isShutdown() {
		time.Sleep(5 * time.Millisecond)
	}
	// A command other than LOGOUT is refused and ends the session.
	if _, f := b.cmd("LISTSCRIPTS"); f != `BYE "Server shutting down"` {
		t.Fatalf("command during shutdown = %q", f)
	}
	b.expectClosed()
	a.ok("LOGOUT")
	a.expectClosed()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the sessions ended")
	}
	if err := e.srv.Serve(nil, false); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown = %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	e := startServer(t, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	c := e.dial()
	c.login("alice@x", "secret")
	start := time.Now()
	if got := c.line(); !strings.HasPrefix(got, "BYE") {
		t.Fatalf("idle session got %q", got)
	}
	c.expectClosed()
	if time.Since(start) > 3*time.Second {
		t.Fatal("idle session not closed")
	}
	if !strings.Contains(e.logs.String(), "idle timeout") {
		t.Errorf("no idle timeout in the log:\n%s", e.logs)
	}
}
