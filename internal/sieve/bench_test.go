package sieve

import (
	"context"
	"os"
	"testing"
	"time"
)

// BenchmarkRun50Rules runs a realistic 50-rule script (lists, senders,
// subjects, spam domains, body words, flags) on a 4 KiB message that
// matches few rules, so most rules are evaluated. The same files serve
// to time Pigeonhole's sieve-test by hand.
func BenchmarkRun50Rules(b *testing.B) {
	src, err := os.ReadFile("testdata/bench50.sieve")
	if err != nil {
		b.Fatal(err)
	}
	msg, err := os.ReadFile("testdata/bench4k.eml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Compile(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	env := Env{
		Envelope: Envelope{From: "colleague@partner.example", To: "me@example.com"},
		Message:  rawMsg(msg),
		Now:      time.Date(2025, 4, 1, 10, 0, 0, 0, time.UTC),
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.Run(context.Background(), env)
		if err != nil {
			b.Fatal(err)
		}
		if !res.ImplicitKeep {
			b.Fatal("unexpected result")
		}
	}
}

func BenchmarkCompile50Rules(b *testing.B) {
	src, err := os.ReadFile("testdata/bench50.sieve")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(src, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
