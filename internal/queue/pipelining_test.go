package queue

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// rawPeer is a bare SMTP server for wire-level checks. With pipelining it
// offers PIPELINING and answers MAIL only once RCPT and DATA have arrived:
// a client that waits for each reply stalls and times out.
func rawPeer(t *testing.T, pipelining bool, got chan<- []string) int {
	return rawPeerExt(t, pipelining, "8BITMIME", got)
}

// rawPeerNo8bit offers neither PIPELINING nor 8BITMIME.
func rawPeerNo8bit(t *testing.T, got chan<- []string) int {
	return rawPeerExt(t, false, "HELP", got)
}

func rawPeerExt(t *testing.T, pipelining bool, ext string, got chan<- []string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if rawSession(c, pipelining, ext, got) {
				return
			}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// rawSession serves one connection; it returns true after a transaction.
// STARTTLS is refused with 454 (RFC 3207 §4), ending the connection.
func rawSession(c net.Conn, pipelining bool, ext string, got chan<- []string) bool {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(s string) { c.Write([]byte(s + "\r\n")) }
	read := func() string { l, _ := r.ReadString('\n'); return strings.TrimRight(l, "\r\n") }
	say("220 raw ESMTP")
	read() // EHLO
	if pipelining {
		say("250-raw\r\n250-PIPELINING\r\n250 " + ext)
	} else {
		say("250-raw\r\n250 " + ext)
	}
	var cmds []string
	if first := read(); first == "STARTTLS" {
		say("454 4.7.0 TLS not available")
		return false
	} else {
		cmds = append(cmds, first)
	}
	if pipelining {
		for cmds[len(cmds)-1] != "DATA" {
			cmds = append(cmds, read())
		}
		say("250 sender ok\r\n250 rcpt ok\r\n550 5.1.1 rcpt unknown\r\n354 go on")
	} else {
		for i, reply := range []string{"250 sender ok", "250 rcpt ok", "550 5.1.1 rcpt unknown", "354 go on"} {
			if i > 0 {
				cmds = append(cmds, read())
			}
			say(reply)
		}
	}
	for l := read(); l != "."; l = read() {
	}
	say("250 2.0.0 queued")
	got <- cmds
	read() // QUIT or nothing
	return true
}

func TestPipelinedTransaction(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		got := make(chan []string, 1)
		port := rawPeer(t, pipelining, got)
		f := newFixture(t, nil, func(o *Options) { o.Port = port; o.CommandTimeout = 2 * time.Second })
		id := f.enqueue("a@local.test", testBody, "b@remote.test", "c@remote.test")
		f.flush()
		var cmds []string
		select {
		case cmds = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("pipelining=%v: the peer saw no complete transaction\n%s", pipelining, f.logs)
		}
		want := "MAIL FROM:<a@local.test>|RCPT TO:<b@remote.test>|RCPT TO:<c@remote.test>|DATA"
		if strings.Join(cmds, "|") != want {
			t.Fatalf("pipelining=%v: commands %q", pipelining, cmds)
		}
		e, ok := f.entry(id)
		if ok {
			t.Fatalf("entry left: %+v", e)
		}
		if b := f.local.bounces("a@local.test"); len(b) != 1 || !strings.Contains(string(b[0]), "c@remote.test") {
			t.Fatalf("pipelining=%v: bounces %d", pipelining, len(b))
		}
	}
}

// TestRefusedSTARTTLSFallsBack: a peer that offers STARTTLS and then
// refuses it gets the message in clear text on a new connection.
func TestRefusedSTARTTLSFallsBack(t *testing.T) {
	got := make(chan []string, 1)
	port := rawPeerExt(t, true, "STARTTLS", got)
	f := newFixture(t, nil, func(o *Options) { o.Port = port })
	f.enqueue("a@local.test", testBody, "b@remote.test", "c@remote.test")
	f.flush()
	select {
	case <-got:
	default:
		t.Fatalf("not delivered after the refused STARTTLS\n%s", f.logs)
	}
	f.wantLog("msg=relayed", "tls=false")
}
