package smtpd

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestErrorLogBounded: go-smtp's error log cannot flood the disk: a burst
// is written, the rest counted and summed up once the rate allows, and a
// stack trace is cut to its first lines (issue 13).
func TestErrorLogBounded(t *testing.T) {
	var buf bytes.Buffer
	p := newSlogPrinter(slog.New(slog.NewTextHandler(&buf, nil)))
	clock := time.Unix(1000, 0)
	p.now = func() time.Time { return clock }
	stack := "panic serving 127.0.0.1: runtime error\n" + strings.Repeat("goroutine frame\n", 200)
	for range 1000 {
		p.Printf("%s", stack)
	}
	if n := strings.Count(buf.String(), "\n"); n > errorLogBurst*(errorLogLines+2) {
		t.Errorf("1000 errors at once wrote %d lines", n)
	}
	if strings.Count(buf.String(), "goroutine frame") > errorLogBurst*errorLogLines {
		t.Error("stack traces not cut")
	}
	clock = clock.Add(10 * time.Second)
	buf.Reset()
	p.Println("later")
	if !strings.Contains(buf.String(), "smtp server messages dropped") || !strings.Contains(buf.String(), "count=980") {
		t.Errorf("after a pause: %q", buf.String())
	}
}
