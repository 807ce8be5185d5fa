package deliver

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSplitHeader(t *testing.T) {
	msg := "From: a@example.org\r\nSubject: one\r\n two\r\nBcc: x@y\r\n\r\nbody\r\n"
	fields, body, err := SplitHeader([]byte(msg))
	if err != nil || len(fields) != 3 {
		t.Fatalf("%v %v", fields, err)
	}
	if string(body) != "\r\nbody\r\n" {
		t.Fatalf("body %q", body)
	}
	if fields[1].Value() != "one two" || string(fields[1].Raw) != "Subject: one\r\n two\r\n" {
		t.Fatalf("subject %q / %q", fields[1].Value(), fields[1].Raw)
	}
	var joined []byte
	for _, f := range fields {
		joined = append(joined, f.Raw...)
	}
	if string(joined)+string(body) != msg {
		t.Fatal("fields and body do not give back the message")
	}
	if got := FieldsNamed(fields, "bcc"); len(got) != 1 {
		t.Fatal("Bcc not found case-insensitively")
	}
	// No header at all: everything is body.
	if f, b, err := SplitHeader([]byte("just text\r\n")); err != nil || f != nil || string(b) != "just text\r\n" {
		t.Fatalf("%v %q %v", f, b, err)
	}
	// A broken line inside the header is refused.
	if _, _, err := SplitHeader([]byte("From: a@b\r\nnot a field\r\n\r\n")); !errors.Is(err, errHeaderSyntax) {
		t.Fatalf("broken header: %v", err)
	}
	many := strings.Repeat("X-A: b\r\n", maxHeaderFields+1) + "\r\n"
	if _, _, err := SplitHeader([]byte(many)); !errors.Is(err, errTooManyField) {
		t.Fatalf("too many fields: %v", err)
	}
}

func FuzzSplitHeader(f *testing.F) {
	f.Add([]byte("From: a@example.org\r\nSubject: x\r\n y\r\n\r\nbody"))
	f.Add([]byte(" leading\r\n\r\n"))
	f.Add([]byte("A:\r\nB"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, body, err := SplitHeader(msg)
		if err != nil {
			return
		}
		var joined []byte
		for _, fl := range fields {
			if !bytes.HasPrefix(fl.Raw, []byte(fl.Name+":")) {
				t.Fatalf("field %q does not start with its name %q", fl.Raw, fl.Name)
			}
			_ = fl.Value()
			joined = append(joined, fl.Raw...)
		}
		if !bytes.Equal(append(joined, body...), msg) {
			t.Fatalf("lost bytes: %q", msg)
		}
	})
}

// TestCheckSubmission: the submission header rule that SMTP submission and
// JMAP sending share.
func TestCheckSubmission(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	o := SubmitOptions{ID: "abc", Hostname: "mail.example.test"}
	msg := "Return-Path: <old@remote.test>\r\nFrom: Alice <alice+x@example.test>\r\nTo: bob@remote.test\r\nBcc: carol@remote.test\r\nSubject: hi\r\n\r\nbody\r\n"
	out, domain, err := f.p.CheckSubmission(ctx, f.alice, []byte(msg), o)
	if err != nil || domain != "example.test" {
		t.Fatalf("%q %v", domain, err)
	}
	got := string(out)
	for _, gone := range []string{"Return-Path", "Bcc", "carol"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s kept:\n%s", gone, got)
		}
	}
	if !strings.Contains(got, "\r\nDate: ") || !strings.Contains(got, "\r\nMessage-ID: <abc.") || !strings.HasSuffix(got, "\r\n\r\nbody\r\n") {
		t.Errorf("not completed:\n%s", got)
	}
	for _, tc := range []struct {
		msg     string
		problem HeaderProblem
		field   string
	}{
		{"From: bob@example.test\r\n\r\nx", HeaderNotOwned, "From"},
		{"From: \"bob@example.test\" <alice@example.test>\r\n\r\nx", HeaderNotOwned, "From"},
		{"From: alice@example.test\r\nSender: bob@example.test\r\n\r\nx", HeaderNotOwned, "Sender"},
		{"To: x@remote.test\r\n\r\nx", HeaderNoFrom, "From"},
		{"From: a@example.test\r\nFrom: alice@example.test\r\n\r\nx", HeaderNoFrom, "From"},
		{"From: <<<\r\n\r\nx", HeaderUnparsable, "From"},
		{"From: alice@example.test\r\nbroken line\r\n\r\nx", HeaderMalformed, ""},
	} {
		_, _, err := f.p.CheckSubmission(ctx, f.alice, []byte(tc.msg), o)
		he, ok := IsHeaderError(err)
		if !ok || he.Problem != tc.problem || he.Field != tc.field {
			t.Errorf("%q: %v", tc.msg, err)
		}
	}
}
