package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

const (
	ingestMessages = 5000
	ingestConns    = 8
	messageSize    = 4096
)

func genMessage(i, size int, to string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: loadgen@example.net\r\nTo: %s\r\nSubject: bench message %d\r\n", to, i)
	fmt.Fprintf(&b, "Message-ID: <bench-%d@example.net>\r\nDate: %s\r\n", i, time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	line := "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// sendAll delivers n messages over conns SMTP sessions, many transactions each.
func sendAll(b *testing.B, addr, rcpt string, n, conns int) {
	sendEach(b, addr, rcpt, n, conns, func(i int) (string, []byte) {
		return "loadgen@example.net", genMessage(i, messageSize, rcpt)
	})
}

// sendEach delivers n messages over conns SMTP sessions, message i with
// the sender and body that msg gives.
func sendEach(b *testing.B, addr, rcpt string, n, conns int, msg func(i int) (from string, body []byte)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Hello("loadgen.example.net"); err != nil {
				errs <- err
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				from, body := msg(i)
				if err := c.SendMail(from, []string{rcpt}, bytes.NewReader(body)); err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
					return
				}
			}
			_ = c.Quit()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkSMTPIngest: 5,000 messages of 4 KiB over 8 connections, timed
// until all are visible in the mailbox (POP3 STAT). Run with -benchtime 1x.
func BenchmarkSMTPIngest(b *testing.B) {
	for range b.N {
		s := startServer(b, 1)
		time.Sleep(time.Second)
		_, idleRSS, _ := procStats(s.cmd.Process.Pid)
		cpu0, _, _ := procStats(s.cmd.Process.Pid)
		start := time.Now()
		sendAll(b, s.smtp, "bench1@bench.test", ingestMessages, ingestConns)
		for {
			if n := pop3Count(b, s.pop3, "bench1@bench.test"); n >= ingestMessages {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatal("messages not visible after 5 minutes")
			}
			time.Sleep(100 * time.Millisecond)
		}
		wall := time.Since(start)
		cpu1, _, peak := procStats(s.cmd.Process.Pid)
		b.ReportMetric(float64(ingestMessages)/wall.Seconds(), "msgs/s")
		b.ReportMetric((cpu1-cpu0)*1000/ingestMessages, "server-cpu-ms/msg")
		b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
		b.ReportMetric(float64(idleRSS)/1024, "idle-rss-MiB")
	}
}

type pop3 struct {
	c net.Conn
	r *bufio.Reader
}

func dialPOP3(b *testing.B, addr, user string) *pop3 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	p := &pop3{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	p.expectOK(b)
	p.cmd(b, "USER "+user)
	p.cmd(b, "PASS benchpass")
	return p
}

func (p *pop3) expectOK(b *testing.B) string {
	line, err := p.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		b.Fatalf("pop3: %q %v", line, err)
	}
	return line
}

func (p *pop3) cmd(b *testing.B, c string) string {
	fmt.Fprintf(p.c, "%s\r\n", c)
	return p.expectOK(b)
}

// multi reads a multi-line response and returns its line count and bytes.
func (p *pop3) multi(b *testing.B) (lines, size int) {
	for {
		line, err := p.r.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(line) == 3 && line[0] == '.' {
			return lines, size
		}
		lines++
		size += len(line)
	}
}

func pop3Count(b *testing.B, addr, user string) int {
	p := dialPOP3(b, addr, user)
	defer p.c.Close()
	var n int
	fmt.Sscanf(p.cmd(b, "STAT"), "+OK %d", &n)
	p.cmd(b, "QUIT")
	return n
}

// BenchmarkPOP3 fills a mailbox with 2,000 messages of 4 KiB over SMTP, then
// times one POP3 session doing UIDL and RETR of every message.
func BenchmarkPOP3(b *testing.B) {
	const n = 2000
	for range b.N {
		s := startServer(b, 1)
		sendAll(b, s.smtp, "bench1@bench.test", n, ingestConns)
		cpu0, _, _ := procStats(s.cmd.Process.Pid)
		start := time.Now()
		p := dialPOP3(b, s.pop3, "bench1@bench.test")
		p.cmd(b, "UIDL")
		if lines, _ := p.multi(b); lines != n {
			b.Fatalf("UIDL listed %d messages, want %d", lines, n)
		}
		var total int
		for i := 1; i <= n; i++ {
			p.cmd(b, fmt.Sprintf("RETR %d", i))
			_, size := p.multi(b)
			total += size
		}
		p.cmd(b, "QUIT")
		p.c.Close()
		wall := time.Since(start)
		cpu1, _, _ := procStats(s.cmd.Process.Pid)
		b.ReportMetric(float64(n)/wall.Seconds(), "retr/s")
		b.ReportMetric(wall.Seconds()*1000, "session-ms")
		b.ReportMetric((cpu1-cpu0)*1000/n, "server-cpu-ms/msg")
		b.ReportMetric(float64(total)/wall.Seconds()/(1<<20), "MB/s")
	}
}
