package smtpd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSplitHeader(t *testing.T) {
	msg := "From: a@example.org\r\nSubject: one\r\n two\r\nBcc: x@y\r\n\r\nbody\r\n"
	fields, body, err := splitHeader([]byte(msg))
	if err != nil || len(fields) != 3 {
		t.Fatalf("%v %v", fields, err)
	}
	if string(body) != "\r\nbody\r\n" {
		t.Fatalf("body %q", body)
	}
	if fields[1].value() != "one two" || string(fields[1].raw) != "Subject: one\r\n two\r\n" {
		t.Fatalf("subject %q / %q", fields[1].value(), fields[1].raw)
	}
	var joined []byte
	for _, f := range fields {
		joined = append(joined, f.raw...)
	}
	if string(joined)+string(body) != msg {
		t.Fatal("fields and body do not give back the message")
	}
	if got := headerFields(fields, "bcc"); len(got) != 1 {
		t.Fatal("Bcc not found case-insensitively")
	}
	// No header at all: everything is body.
	if f, b, err := splitHeader([]byte("just text\r\n")); err != nil || f != nil || string(b) != "just text\r\n" {
		t.Fatalf("%v %q %v", f, b, err)
	}
	// A broken line inside the header is refused.
	if _, _, err := splitHeader([]byte("From: a@b\r\nnot a field\r\n\r\n")); !errors.Is(err, errHeaderSyntax) {
		t.Fatalf("broken header: %v", err)
	}
	many := strings.Repeat("X-A: b\r\n", maxHeaderFields+1) + "\r\n"
	if _, _, err := splitHeader([]byte(many)); !errors.Is(err, errTooManyField) {
		t.Fatalf("too many fields: %v", err)
	}
}

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

func FuzzSplitHeader(f *testing.F) {
	f.Add([]byte("From: a@example.org\r\nSubject: x\r\n y\r\n\r\nbody"))
	f.Add([]byte(" leading\r\n\r\n"))
	f.Add([]byte("A:\r\nB"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, body, err := splitHeader(msg)
		if err != nil {
			return
		}
		var joined []byte
		for _, fl := range fields {
			if !bytes.HasPrefix(fl.raw, []byte(fl.name+":")) {
				t.Fatalf("field %q does not start with its name %q", fl.raw, fl.name)
			}
			_ = fl.value()
			joined = append(joined, fl.raw...)
		}
		if !bytes.Equal(append(joined, body...), msg) {
			t.Fatalf("lost bytes: %q", msg)
		}
	})
}
