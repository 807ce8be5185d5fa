package sieve

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// rawMsg is a Message held in memory.
type rawMsg []byte

func (m rawMsg) Size() int64                  { return int64(len(m)) }
func (m rawMsg) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(m)), nil }

// crlf turns "\n" into "\r\n" in a message written in a Go literal.
func crlf(s string) rawMsg {
	return rawMsg(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

const testMsg = `Return-Path: <alice@example.org>
Received: from mx.example.org by mail.example.com; Tue, 1 Apr 2025 10:00:00 +0000
From: Alice Example <alice@example.org>
To: Bob <bob+lists@example.com>, carol@example.net
Cc: "Doe, John" <john@Example.COM>
Subject: =?utf-8?q?Caf=C3=A9?= meeting
Date: Tue, 1 Apr 2025 12:30:45 +0200
Message-ID: <abc123@example.org>
X-Spam-Score: 7
List-Id: <dev.lists.example.org>
Content-Type: text/plain; charset=utf-8

Hello Bob,
the meeting is at noon.
`

func testEnv() Env {
	return Env{
		Envelope: Envelope{From: "alice@example.org", To: "bob+lists@example.com"},
		Message:  crlf(testMsg),
		Now:      time.Date(2025, 4, 2, 8, 0, 0, 0, time.UTC),
	}
}

func mustCompile(t testing.TB, src string) *Script {
	t.Helper()
	s, err := Compile([]byte(src), Options{})
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	return s
}

func mustRun(t testing.TB, src string, env Env) *Result {
	t.Helper()
	res, err := mustCompile(t, src).Run(context.Background(), env)
	if err != nil {
		t.Fatalf("run %q: %v", src, err)
	}
	return res
}

// summary renders a Result as one line for table tests.
func summary(r *Result) string {
	var parts []string
	for _, k := range r.Keeps {
		s := "fileinto:" + k.Mailbox
		if len(k.Flags) > 0 {
			s += "[" + strings.Join(k.Flags, " ") + "]"
		}
		if k.Copy {
			s += ":copy"
		}
		if k.Create {
			s += ":create"
		}
		parts = append(parts, s)
	}
	for _, rd := range r.Redirects {
		s := "redirect:" + rd.Address
		if rd.Copy {
			s += ":copy"
		}
		parts = append(parts, s)
	}
	if r.Discard {
		parts = append(parts, "discard")
	}
	if r.Reject != nil {
		if r.Reject.Extended {
			parts = append(parts, "ereject:"+r.Reject.Reason)
		} else {
			parts = append(parts, "reject:"+r.Reject.Reason)
		}
	}
	if r.Vacation != nil {
		parts = append(parts, "vacation:"+r.Vacation.Reason)
	}
	if r.ImplicitKeep {
		s := "implicit"
		if len(r.ImplicitKeepFlags) > 0 {
			s += "[" + strings.Join(r.ImplicitKeepFlags, " ") + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
