package queue

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// FuzzReadHeader: any queued message gives a bounded header, a hop count
// no larger than its lines, and never a panic.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte(testBody))
	f.Add([]byte("Received: a\r\nReceived: b\r\n\r\nbody"))
	f.Add([]byte(strings.Repeat("x", 5000) + "\r\nReceived: x\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		head, hops, _, err := readHeader(bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		if len(head) > maxHeaderBytes || len(head) > len(msg) {
			t.Fatalf("header of %d bytes from %d", len(head), len(msg))
		}
		if hops > bytes.Count(msg, []byte("\n"))+1 {
			t.Fatalf("%d hops", hops)
		}
	})
}

var finalRcpt = regexp.MustCompile(`(?m)^Final-Recipient:`)

// FuzzDSN: whatever a peer answers and whatever the original header holds,
// the DSN stays a well-formed multipart/report whose status part has the
// recipient fields: a reply cannot inject header fields or MIME parts.
func FuzzDSN(f *testing.F) {
	f.Add("550 5.1.1 no such user", "b@remote.test", []byte("Subject: x\r\n"), "", false)
	f.Add("451 4.3.0 try\r\nFinal-Recipient: rfc822; evil@x\r\n", "c@x", []byte("X: y\n--=_postern_\n"), "env\r\nid", true)
	f.Fuzz(func(t *testing.T, diag, rcpt string, headers []byte, envID string, delayed bool) {
		rcpt = strings.Map(func(r rune) rune {
			if r < 0x21 || r == '<' || r == '>' {
				return -1
			}
			return r
		}, rcpt)
		head, _, _, _ := readHeader(bytes.NewReader(append(headers, "\r\n\r\n"...)))
		now := time.Unix(1_700_000_000, 0)
		dsn := buildDSN(dsnInfo{hostname: "mx.local.test", queueID: "7", sender: "a@local.test", envID: envID,
			arrival: now, delayed: delayed, retryTill: now, now: now, headers: head,
			rcpts: []dsnRecipient{{rcpt: rcpt, status: "5.0.0", diag: diag, lastAttempt: now}}})
		m, err := mail.ReadMessage(bytes.NewReader(dsn))
		if err != nil {
			t.Fatalf("DSN does not parse: %v", err)
		}
		mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/report" {
			t.Fatalf("content type %q %v", mt, err)
		}
		mr := multipart.NewReader(m.Body, params["boundary"])
		var types []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part: %v", err)
			}
			types = append(types, p.Header.Get("Content-Type"))
			body, _ := io.ReadAll(p)
			if p.Header.Get("Content-Type") == "message/delivery-status" && len(finalRcpt.FindAll(body, -1)) != 1 {
				t.Fatalf("status part:\n%s", body)
			}
		}
		if len(types) != 3 || types[1] != "message/delivery-status" || types[2] != "text/rfc822-headers" {
			t.Fatalf("parts %q", types)
		}
	})
}

// FuzzReply: the reply reader takes whatever a peer sends without panic,
// within its limits, and the enhanced code it extracts has the reply's class.
func FuzzReply(f *testing.F) {
	f.Add([]byte("250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n"))
	f.Add([]byte("550 5.1.1 no such user\r\n"))
	f.Add([]byte("451-4.3.0 a\r\n452 b\r\n"))
	f.Add([]byte("2\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &smtpConn{r: bufio.NewReaderSize(bytes.NewReader(data), maxReplyLine)}
		for range 20 {
			code, msg, err := c.reply()
			if err != nil {
				return
			}
			if code < 200 || code > 599 || strings.Count(msg, "\n") >= maxReplyLines {
				t.Fatalf("code %d, %d lines", code, strings.Count(msg, "\n")+1)
			}
			e := smtpError(code, msg)
			if e.EnhancedCode != smtp.NoEnhancedCode && e.EnhancedCode[0] != code/100 {
				t.Fatalf("enhanced code %v for %d", e.EnhancedCode, code)
			}
		}
	})
}
