package deliver

import (
	"bytes"
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
