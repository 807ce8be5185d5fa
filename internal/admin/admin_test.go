package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/dkim"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// testKeys are real DKIM keys made once: RSA-2048 generation is slow,
// above all under -race. fastKeys hands out copies with fresh selectors.
var testKeys = sync.OnceValues(func() ([]store.DKIMKey, error) { return dkim.GenerateKeys(time.Now()) })

func fastKeys() func(time.Time) ([]store.DKIMKey, error) {
	var n atomic.Int64
	return func(now time.Time) ([]store.DKIMKey, error) {
		keys, err := testKeys()
		if err != nil {
			return nil, err
		}
		i := n.Add(1)
		out := make([]store.DKIMKey, len(keys))
		for j, k := range keys {
			k.Selector = fmt.Sprintf("t%d%s", i, k.Selector[len(k.Selector)-1:])
			k.CreatedAt = now
			out[j] = k
		}
		return out, nil
	}
}

// logBuffer is an io.Writer safe for the logger's concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is a service over a fresh SQLite store, its audit log in JSON,
// and a context carrying the actor "test".
type harness struct {
	t    *testing.T
	svc  *Service
	st   *sqlstore.Store
	ctx  context.Context
	log  *logBuffer
	seen int // audit lines already looked at
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	buf := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(buf, nil))
	svc := New(st, logger, Options{Hostname: "mail.example.org.", NewDKIMKeys: fastKeys()})
	return &harness{t: t, svc: svc, st: st, log: buf,
		ctx: WithActor(ctx, Actor{Name: "test", Remote: "192.0.2.1"})}
}

// audits returns the audit lines logged since the last call.
func (h *harness) audits() []map[string]any {
	h.t.Helper()
	var out []map[string]any
	lines := strings.Split(strings.TrimSpace(h.log.String()), "\n")
	for _, l := range lines {
		if l == "" {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber() // byte counts print as integers
		if err := dec.Decode(&m); err != nil {
			h.t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "admin change" {
			out = append(out, m)
		}
	}
	fresh := out[min(h.seen, len(out)):]
	h.seen = len(out)
	return fresh
}

// wantAudit checks that exactly one change was logged since the last
// look, with this action, target and details.
func (h *harness) wantAudit(action, target string, details ...any) {
	h.t.Helper()
	got := h.audits()
	if len(got) != 1 {
		h.t.Fatalf("%s %s: %d audit lines, want 1: %v", action, target, len(got), got)
	}
	m := got[0]
	if m["level"] != "INFO" || m["actor"] != "test" || m["remote"] != "192.0.2.1" ||
		m["action"] != action || m["target"] != target {
		h.t.Errorf("audit line %v, want action=%s target=%s actor=test at INFO", m, action, target)
	}
	for i := 0; i+1 < len(details); i += 2 {
		k := details[i].(string)
		if got, want := fmt.Sprint(m[k]), fmt.Sprint(details[i+1]); got != want {
			h.t.Errorf("%s: audit %s=%s, want %s", action, k, got, want)
		}
	}
}

// wantNoAudit checks that nothing was logged as a change since the last
// look: refused changes and reads are not changes.
func (h *harness) wantNoAudit(what string) {
	h.t.Helper()
	if got := h.audits(); len(got) != 0 {
		h.t.Errorf("%s: logged as a change: %v", what, got)
	}
}

// wantErr checks err is an *Error of this kind about field, whose message
// contains msg.
func wantErr(t *testing.T, err error, kind Kind, field, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *admin.Error of kind %s", err, err, kind)
	}
	if e.Kind != kind || e.Field != field || !strings.Contains(e.Msg, msg) {
		t.Errorf("error {%s %q %q}, want {%s %q containing %q}", e.Kind, e.Field, e.Msg, kind, field, msg)
	}
	if KindOf(err) != kind || e.Error() != e.Msg {
		t.Errorf("KindOf %s, Error() %q", KindOf(err), e.Error())
	}
	switch kind {
	case KindNotFound:
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%v does not wrap store.ErrNotFound", err)
		}
	case KindExists:
		if !errors.Is(err, store.ErrExists) {
			t.Errorf("%v does not wrap store.ErrExists", err)
		}
	}
}

func (h *harness) mustDomain(name string) {
	h.t.Helper()
	if _, err := h.svc.AddDomain(h.ctx, name); err != nil {
		h.t.Fatal(err)
	}
	h.audits()
}

func (h *harness) mustAccount(addr string) {
	h.t.Helper()
	if _, _, err := h.svc.AddAccount(h.ctx, addr, NewPassword{Given: "correct horse battery"}); err != nil {
		h.t.Fatal(err)
	}
	h.audits()
}

func (h *harness) mustAlias(src string, dests ...string) {
	h.t.Helper()
	if _, err := h.svc.AddAlias(h.ctx, src, dests); err != nil {
		h.t.Fatal(err)
	}
	h.audits()
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindInvalid: "invalid", KindNotFound: "not found",
		KindExists: "exists", KindConflict: "conflict", 0: "Kind(0)"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", int(k), k.String(), want)
		}
	}
	if KindOf(errors.New("disk on fire")) != 0 || KindOf(nil) != 0 {
		t.Error("KindOf of a plain error is not 0")
	}
	wrapped := fmt.Errorf("context: %w", notFound("domain", "x.test", "domain x.test"))
	if KindOf(wrapped) != KindNotFound {
		t.Errorf("KindOf does not see through wrapping")
	}
}

// TestChangesNeedAnActor: every change refuses to run without an actor,
// and changes nothing.
func TestChangesNeedAnActor(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustAccount("alice@example.org")
	h.mustAlias("team@example.org", "alice@example.org")
	ctx := context.Background()
	s := h.svc
	changes := map[string]func() error{
		"AddDomain":     func() error { _, err := s.AddDomain(ctx, "new.test"); return err },
		"DeleteDomain":  func() error { return s.DeleteDomain(ctx, "example.org") },
		"SetCatchAll":   func() error { return s.SetCatchAll(ctx, "example.org", "alice@example.org") },
		"ClearCatchAll": func() error { return s.ClearCatchAll(ctx, "example.org") },
		"AddAccount":    func() error { _, _, err := s.AddAccount(ctx, "x@example.org", NewPassword{Generate: true}); return err },
		"SetPassword": func() error {
			_, _, err := s.SetPassword(ctx, "alice@example.org", NewPassword{Generate: true})
			return err
		},
		"DeleteAccount":     func() error { return s.DeleteAccount(ctx, "alice@example.org") },
		"DisableAccount":    func() error { return s.DisableAccount(ctx, "alice@example.org") },
		"EnableAccount":     func() error { return s.EnableAccount(ctx, "alice@example.org") },
		"SetQuota":          func() error { return s.SetQuota(ctx, "alice@example.org", Quota{Bytes: 1}) },
		"AddAlias":          func() error { _, err := s.AddAlias(ctx, "x@example.org", []string{"a@b.test"}); return err },
		"DeleteAlias":       func() error { return s.DeleteAlias(ctx, "team@example.org") },
		"AddAppPassword":    func() error { _, _, err := s.AddAppPassword(ctx, "alice@example.org", "phone"); return err },
		"DeleteAppPassword": func() error { return s.DeleteAppPassword(ctx, "alice@example.org", "phone") },
		"RotateDKIM":        func() error { _, err := s.RotateDKIM(ctx, "example.org"); return err },
		"QueueRetry":        func() error { _, err := s.QueueRetry(ctx, 1); return err },
		"QueueRetryAll":     func() error { _, err := s.QueueRetryAll(ctx); return err },
		"QueueDrop":         func() error { return s.QueueDrop(ctx, 1) },
		"QueueHold":         func() error { return s.QueueHold(ctx, 1) },
		"QueueRelease":      func() error { return s.QueueRelease(ctx, 1) },
	}
	for name, change := range changes {
		if err := change(); !errors.Is(err, ErrNoActor) {
			t.Errorf("%s without an actor: %v, want ErrNoActor", name, err)
		}
	}
	// An actor without a name is no actor.
	if _, err := s.AddDomain(WithActor(ctx, Actor{}), "new.test"); !errors.Is(err, ErrNoActor) {
		t.Errorf("AddDomain with an empty actor: %v", err)
	}
	h.wantNoAudit("changes without an actor")
	if ds, _ := s.Domains(ctx); len(ds) != 1 {
		t.Errorf("domains after refused changes: %v", ds)
	}
	if a, err := s.Account(ctx, "alice@example.org"); err != nil || a.Disabled || a.QuotaBytes != 0 {
		t.Errorf("alice after refused changes: %+v %v", a, err)
	}
}

func TestActorFrom(t *testing.T) {
	if _, ok := ActorFrom(context.Background()); ok {
		t.Error("actor in an empty context")
	}
	a, ok := ActorFrom(WithActor(context.Background(), Actor{Name: "cli"}))
	if !ok || a.Name != "cli" {
		t.Errorf("ActorFrom: %+v %v", a, ok)
	}
}

// TestAuditLineForm: the line is what an administrator greps for, at info
// level, without a remote when there is none.
func TestAuditLineForm(t *testing.T) {
	var buf logBuffer
	st, err := sqlstore.OpenDir(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := New(st, slog.New(slog.NewTextHandler(&buf, nil)), Options{NewDKIMKeys: fastKeys()})
	ctx := WithActor(context.Background(), Actor{Name: "cli"})
	if _, err := svc.AddDomain(ctx, "Example.ORG"); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(buf.String())
	want := `level=INFO msg="admin change" actor=cli action=domain.add target=example.org dkim_selectors=t1e,t1r`
	if strings.Count(line, "\n") != 0 || !strings.HasSuffix(line, want) {
		t.Errorf("audit line:\n%s\nwant it to end with:\n%s", line, want)
	}
	// A nil logger is allowed and discards.
	quiet := New(st, nil, Options{NewDKIMKeys: fastKeys()})
	if _, err := quiet.AddDomain(ctx, "quiet.test"); err != nil {
		t.Fatal(err)
	}
}
