package srs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestRoundTrip(t *testing.T) {
	day0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	r := New([]byte("secret"), "fwd.example")
	r.SetClock(fixed(day0))
	for _, sender := range []string{"alice@orig.example", "a=b+c@Orig.Example", "x@sub.orig.example"} {
		got := r.Forward(sender)
		if !strings.HasPrefix(got, "SRS0=") || !strings.HasSuffix(got, "@fwd.example") {
			t.Fatalf("Forward(%q) = %q", sender, got)
		}
		back, err := r.Reverse(got)
		if err != nil || !strings.EqualFold(back, sender) {
			t.Errorf("Reverse(%q) = %q, %v; want %q", got, back, err, sender)
		}
		// Some MTAs lower-case the local part; the hash still matches.
		if back, err := r.Reverse(strings.ToLower(got)); err != nil || !strings.EqualFold(back, sender) {
			t.Errorf("lower-cased Reverse = %q, %v", back, err)
		}
	}
	for _, keep := range []string{"", "bob@fwd.example", "BOB@FWD.EXAMPLE", "no-at-sign"} {
		if got := r.Forward(keep); got != keep {
			t.Errorf("Forward(%q) = %q, want it unchanged", keep, got)
		}
	}
}

func TestExpiryAndForgery(t *testing.T) {
	day0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	r := New([]byte("secret"), "fwd.example")
	r.SetClock(fixed(day0))
	addr := r.Forward("alice@orig.example")

	r.SetClock(fixed(day0.Add(MaxAge - time.Hour)))
	if _, err := r.Reverse(addr); err != nil {
		t.Errorf("within MaxAge: %v", err)
	}
	r.SetClock(fixed(day0.Add(MaxAge + 48*time.Hour)))
	if _, err := r.Reverse(addr); !errors.Is(err, ErrExpired) {
		t.Errorf("after MaxAge: %v", err)
	}
	r.SetClock(fixed(day0))
	other := New([]byte("other secret"), "fwd.example")
	if _, err := other.Reverse(addr); !errors.Is(err, ErrBadHash) {
		t.Errorf("other secret: %v", err)
	}
	forged := strings.Replace(addr, "alice", "mallory", 1)
	if _, err := r.Reverse(forged); !errors.Is(err, ErrBadHash) {
		t.Errorf("forged local part: %v", err)
	}
	for _, not := range []string{"alice@fwd.example", "SRS0=abc@fwd.example", "SRS0=h=tt=d=l@elsewhere.example", "SRS0@fwd.example", "SRS1=h=first.example=x@fwd.example"} {
		if _, err := r.Reverse(not); err == nil {
			t.Errorf("Reverse(%q) accepted", not)
		}
	}
}

func TestSecondHop(t *testing.T) {
	first := New([]byte("one"), "first.example")
	second := New([]byte("two"), "second.example")
	srs0 := first.Forward("alice@orig.example")
	srs1 := second.Forward(srs0)
	if !strings.HasPrefix(srs1, "SRS1=") || !strings.HasSuffix(srs1, "@second.example") {
		t.Fatalf("second hop = %q", srs1)
	}
	back, err := second.Reverse(srs1)
	if err != nil || !strings.EqualFold(back, srs0) {
		t.Fatalf("second.Reverse = %q, %v; want %q", back, err, srs0)
	}
	orig, err := first.Reverse(back)
	if err != nil || orig != "alice@orig.example" {
		t.Fatalf("first.Reverse = %q, %v", orig, err)
	}
	third := New([]byte("three"), "third.example")
	srs1b := third.Forward(srs1)
	if back, err := third.Reverse(srs1b); err != nil || !strings.EqualFold(back, srs0) {
		t.Errorf("third hop reverses to %q, %v; want the first hop %q", back, err, srs0)
	}
}

func FuzzReverse(f *testing.F) {
	r := New([]byte("secret"), "fwd.example")
	f.Add(r.Forward("alice@orig.example"))
	f.Add(r.Forward(New([]byte("x"), "a.example").Forward("b@c.example")))
	f.Add("SRS0=====@fwd.example")
	f.Fuzz(func(t *testing.T, addr string) {
		back, err := r.Reverse(addr)
		if err == nil && (back == "" || len(back) > len(addr)+8) {
			t.Fatalf("Reverse(%q) = %q", addr, back)
		}
		fw := r.Forward(addr)
		if len(fw) > maxAddr && fw != addr {
			t.Fatalf("Forward made %d bytes", len(fw))
		}
	})
}
