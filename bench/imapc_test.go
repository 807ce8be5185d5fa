package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// A minimal IMAP client for the benchmarks: raw lines, pipelining, and
// literals read whole. The e2e tests use independent clients; here the
// client must cost little next to the server it measures.
type imapc struct {
	b   testing.TB
	c   net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	tag int
}

func dialIMAP(b testing.TB, addr, user, pass string) *imapc {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	ic := &imapc{b: b, c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
	if _, err := ic.line(); err != nil {
		b.Fatal(err)
	}
	ic.must(fmt.Sprintf("LOGIN %s %s", user, pass), nil)
	return ic
}

func (ic *imapc) close() {
	ic.c.Close()
}

// line reads one response line, with any literals it announces appended.
func (ic *imapc) line() (string, error) {
	var sb strings.Builder
	for {
		l, err := ic.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimRight(l, "\r\n")
		sb.WriteString(l)
		n, ok := literalLen(l)
		if !ok {
			return sb.String(), nil
		}
		buf := make([]byte, n)
		if _, err := ioReadFull(ic.r, buf); err != nil {
			return "", err
		}
		sb.Write(buf)
	}
}

func literalLen(l string) (int, bool) {
	if !strings.HasSuffix(l, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(l[i+1:len(l)-1], "+"))
	return n, err == nil
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// send writes one command without flushing and returns its tag.
func (ic *imapc) send(cmd string) string {
	ic.tag++
	t := "b" + strconv.Itoa(ic.tag)
	ic.w.WriteString(t + " " + cmd + "\r\n")
	return t
}

// sendAppend writes an APPEND with a non-synchronising literal (LITERAL+).
func (ic *imapc) sendAppend(mbox string, msg []byte) string {
	ic.tag++
	t := "b" + strconv.Itoa(ic.tag)
	fmt.Fprintf(ic.w, "%s APPEND %s {%d+}\r\n", t, mbox, len(msg))
	ic.w.Write(msg)
	ic.w.WriteString("\r\n")
	return t
}

// wait reads until the tagged reply of tag, passing untagged lines on.
func (ic *imapc) wait(tag string, each func(string)) (string, error) {
	ic.w.Flush()
	for {
		l, err := ic.line()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(l, tag+" ") {
			st := l[len(tag)+1:]
			if !strings.HasPrefix(st, "OK") {
				return st, fmt.Errorf("%s", l)
			}
			return st, nil
		}
		if each != nil {
			each(l)
		}
	}
}

func (ic *imapc) must(cmd string, each func(string)) string {
	st, err := ic.wait(ic.send(cmd), each)
	if err != nil {
		ic.b.Fatalf("%s: %v", cmd, err)
	}
	return st
}

// appendAll APPENDs msgs with up to window commands in flight.
func (ic *imapc) appendAll(mbox string, msgs [][]byte, window int) {
	var tags []string
	for _, m := range msgs {
		tags = append(tags, ic.sendAppend(mbox, m))
		if len(tags) == window {
			ic.waitAll(tags)
			tags = tags[:0]
		}
	}
	ic.waitAll(tags)
}

func (ic *imapc) waitAll(tags []string) {
	for _, t := range tags {
		if _, err := ic.wait(t, nil); err != nil {
			ic.b.Fatalf("APPEND: %v", err)
		}
	}
}

// vocabulary is the words of generated text; search terms come from it.
const vocabulary = `meeting report budget quarter invoice travel schedule project review
	design release draft contract proposal update notes agenda summary figures request approval
	customer supplier shipment order payment reminder holiday office network server backup policy`

// genMIME returns a realistic message of one of several shapes (plain,
// alternative text+HTML, mixed with an attachment, HTML only), about size
// bytes, deterministic in i. Its subject carries the token "tag<i%100>".
func genMIME(i, size int) []byte {
	rng := mrand.New(mrand.NewPCG(uint64(i), 7))
	words := strings.Fields(vocabulary)
	text := func(n int) string {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(12) == 0 {
				sb.WriteString(".\r\n")
			} else {
				sb.WriteByte(' ')
			}
		}
		return sb.String()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "From: Sender %d <sender%d@example.net>\r\nTo: bench@bench.test\r\n", i%37, i%37)
	fmt.Fprintf(&sb, "Subject: %s %s tag%d\r\nDate: Mon, 2 Mar 2026 10:%02d:00 +0000\r\n", words[i%len(words)], words[(i/7)%len(words)], i%100, i%60)
	fmt.Fprintf(&sb, "Message-ID: <m%d@example.net>\r\nMIME-Version: 1.0\r\n", i)
	body := max(size-400, 200)
	switch i % 4 {
	case 0:
		sb.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text(body) + "\r\n")
	case 1:
		t := text(body / 2)
		sb.WriteString("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			t + "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + t + "</p></body></html>\r\n--alt--\r\n")
	case 2:
		att := make([]byte, body/2)
		for k := range att {
			att[k] = byte(rng.Uint32())
		}
		sb.WriteString("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
			text(body/4) + "\r\n--mix\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(att)
		for len(enc) > 76 {
			sb.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		sb.WriteString(enc + "\r\n--mix--\r\n")
	default:
		sb.WriteString("Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>" + text(body) + "</p></body></html>\r\n")
	}
	return []byte(sb.String())
}

// fill APPENDs n messages to mbox over conns connections in parallel.
func fill(b testing.TB, addr, user, mbox string, n, conns, size int) {
	errc := make(chan error, conns)
	for c := range conns {
		go func() {
			// Deferred, so that a Fatal in this goroutine does not hang fill.
			defer func() { errc <- nil }()
			ic := dialIMAP(b, addr, user, "benchpass")
			defer ic.close()
			var batch [][]byte
			for i := c; i < n; i += conns {
				batch = append(batch, genMIME(i, size))
				if len(batch) == 64 {
					ic.appendAll(mbox, batch, 64)
					batch = batch[:0]
				}
			}
			ic.appendAll(mbox, batch, 64)
		}()
	}
	for range conns {
		<-errc
	}
}

// cheapPassword stores an argon2id hash of "benchpass" made with the least
// cost the verifier accepts, so that thousands of logins measure the IMAP
// server rather than password hashing (which is its own, deliberate cost).
func cheapPassword(b testing.TB, dir, address string) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte("benchpass"), salt, 1, 8, 1, 32)
	enc := base64.RawStdEncoding
	phc := fmt.Sprintf("$argon2id$v=%d$m=8,t=1,p=1$%s$%s", argon2.Version, enc.EncodeToString(salt), enc.EncodeToString(key))
	st, err := sqlstore.OpenDir(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.SetCredentials(context.Background(), address, store.Credentials{PasswordHash: phc}); err != nil {
		b.Fatal(err)
	}
}

// setKey sets key = value in [section] of a config written by init.
func setKey(text, section, key, value string) string {
	lines := strings.Split(text, "\n")
	in := false
	for i, ln := range lines {
		t := strings.TrimSpace(ln)
		if strings.HasPrefix(t, "[") {
			in = t == "["+section+"]"
			continue
		}
		if k, _, ok := strings.Cut(t, "="); in && ok && strings.TrimSpace(k) == key {
			lines[i] = "  " + key + " = " + value
		}
	}
	return strings.Join(lines, "\n")
}

// startIMAPServer is startServer with IMAP limits raised for thousands of
// connections from one address, and user bench1 with a cheap password.
func startIMAPServer(b *testing.B) *server {
	httpAddr := freePort(b)
	s := initServer(b, func(text string) string {
		text = setKey(text, "imap", "max_connections_per_ip", "100000")
		text = setListen(text, map[string]string{"http": httpAddr})
		return setKey(text, "log", "level", `"warn"`)
	})
	s.http = httpAddr
	s.run("domain", "add", "bench.test")
	s.run("user", "add", "bench1@bench.test", "--password-stdin")
	cheapPassword(b, s.dir, "bench1@bench.test")
	out := s.run("user", "app-password", "add", "bench1@bench.test", "bench")
	_, secret, ok := strings.Cut(strings.SplitN(out, "\n", 2)[0], ": ")
	if !ok || strings.TrimSpace(secret) == "" {
		b.Fatalf("no app password in %q", out)
	}
	s.appPass = strings.TrimSpace(secret)
	s.serve(s.imap)
	return s
}
