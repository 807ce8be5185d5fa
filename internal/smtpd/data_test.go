package smtpd

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readChecked(s string, maxHeader int64, maxLine int) error {
	r := newCheckedReader(iotest.OneByteReader(strings.NewReader(s)), maxHeader, maxLine)
	_, err := io.Copy(io.Discard, r)
	return err
}

func TestCheckedReader(t *testing.T) {
	ok := "Subject: x\r\n\r\nbody\r\n"
	if err := readChecked(ok, 1024, 1000); err != nil {
		t.Fatalf("clean message refused: %v", err)
	}
	for name, msg := range map[string]string{
		"bare LF in body":   "Subject: x\r\n\r\nline\n.\r\n",
		"bare LF in header": "Subject: x\n\r\nbody\r\n",
		"bare CR":           "Subject: x\r\n\r\nbo\rdy\r\n",
		"trailing CR":       "Subject: x\r\n\r\nbody\r",
	} {
		if err := readChecked(msg, 1024, 1000); !errors.Is(err, errBareLineEnding) {
			t.Errorf("%s: err = %v, want bare line ending", name, err)
		}
	}
	big := "Subject: " + strings.Repeat("x", 200) + "\r\n\r\nbody\r\n"
	if err := readChecked(big, 100, 1000); !errors.Is(err, errHeaderTooLarge) {
		t.Errorf("large header: err = %v", err)
	}
	// A large body is fine: only the header block is bounded.
	body := "Subject: x\r\n\r\n" + strings.Repeat("y\r\n", 500)
	if err := readChecked(body, 100, 1000); err != nil {
		t.Errorf("large body refused: %v", err)
	}
	long := "Subject: x\r\n\r\n" + strings.Repeat("z", 1001) + "\r\n"
	if err := readChecked(long, 1024, 1000); !errors.Is(err, errLineTooLong) {
		t.Errorf("long line: err = %v", err)
	}
}

// A message that has passed more relays than maxHops is a loop, refused
// while the client waits (RFC 5321 §6.3); Received in the body or inside
// another field does not count.
func TestCheckedReaderHops(t *testing.T) {
	hops := func(n int, name string) string {
		return strings.Repeat(name+": from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n", n)
	}
	if err := readChecked(hops(maxHops, "Received")+"Subject: x\r\n\r\nbody\r\n", 1<<20, 1000); err != nil {
		t.Errorf("%d hops refused: %v", maxHops, err)
	}
	for _, name := range []string{"Received", "RECEIVED", "received"} {
		if err := readChecked(hops(maxHops+1, name)+"\r\nbody\r\n", 1<<20, 1000); !errors.Is(err, errTooManyHops) {
			t.Errorf("%d %s fields: err = %v", maxHops+1, name, err)
		}
	}
	other := hops(maxHops+1, "X-Received") + "Subject: Received: x\r\n\r\n" + hops(maxHops+1, "Received")
	if err := readChecked(other, 1<<20, 1000); err != nil {
		t.Errorf("Received elsewhere counted: %v", err)
	}
}
