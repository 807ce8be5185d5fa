package smtpd

import (
	"bytes"
	"testing"
)

func TestLoginServer(t *testing.T) {
	var gotU, gotP string
	l := &loginServer{check: func(u, p string) error { gotU, gotP = u, p; return nil }}
	ch, done, err := l.Next(nil)
	if string(ch) != "Username:" || done || err != nil {
		t.Fatalf("%q %v %v", ch, done, err)
	}
	ch, done, _ = l.Next([]byte("alice@example.org"))
	if string(ch) != "Password:" || done {
		t.Fatalf("%q %v", ch, done)
	}
	if _, done, err := l.Next([]byte("pw with spaces")); !done || err != nil || gotU != "alice@example.org" || gotP != "pw with spaces" {
		t.Fatalf("%v %v %q %q", done, err, gotU, gotP)
	}
	// Initial response carries the username.
	l = &loginServer{check: func(u, p string) error { gotU = u; return errAuthFailed }}
	if ch, _, _ := l.Next([]byte("bob@example.org")); string(ch) != "Password:" {
		t.Fatalf("after initial response: %q", ch)
	}
	if _, _, err := l.Next([]byte("x")); err != errAuthFailed || gotU != "bob@example.org" {
		t.Fatalf("%v %q", err, gotU)
	}
	l = &loginServer{check: func(string, string) error { return nil }}
	if _, _, err := l.Next(bytes.Repeat([]byte("a"), maxSASLField+1)); err == nil {
		t.Fatal("over-long username accepted")
	}
}
