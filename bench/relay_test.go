package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postern/internal/store/sqlstore"
)

const (
	relayMessages = 5000
	relayConns    = 8
	relayRcpt     = "rcpt@remote.example"
	relaySender   = "bench1@bench.test"
	// relayLimit bounds every wait of a relay run (client I/O, sink count).
	relayLimit = 5 * time.Minute
)

// sink is a loopback SMTP server that accepts every message (PIPELINING,
// no TLS), discards it and counts it: the "remote" MTA both relays hand
// their mail to. It costs little next to the relays it measures.
type sink struct {
	ln    net.Listener
	got   atomic.Int64
	want  int64
	done  chan struct{}
	close sync.Once

	mu      sync.Mutex
	samples [][]byte // the first relaySamples messages, whole (checkSigned)
}

func startSink(b *testing.B, want int) *sink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &sink{ln: ln, want: int64(want), done: make(chan struct{})}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.session(c)
		}
	}()
	return s
}

func (s *sink) addr() string { return s.ln.Addr().String() }

// wait blocks until the sink has counted every wanted message.
func (s *sink) wait(limit time.Duration) error {
	select {
	case <-s.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("sink: %d of %d messages after %v", s.got.Load(), s.want, limit)
	}
}

// session answers one connection. Replies are flushed only when the
// client has nothing more buffered, which is what PIPELINING allows
// (RFC 2920 §3.2).
func (s *sink) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	reply := func(text string, flush bool) bool {
		w.WriteString(text + "\r\n")
		if flush || r.Buffered() == 0 {
			return w.Flush() == nil
		}
		return true
	}
	reply("220 sink.test ESMTP", true)
	for {
		c.SetDeadline(time.Now().Add(relayLimit))
		line, err := r.ReadString('\n')
		if err != nil || len(line) > 4096 {
			return
		}
		verb := strings.ToUpper(strings.TrimSpace(line))
		verb, _, _ = strings.Cut(verb, " ")
		ok := true
		switch verb {
		case "EHLO":
			ok = reply("250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 104857600", false)
		case "DATA":
			if !reply("354 go ahead", true) || s.readData(r) != nil {
				return
			}
			if s.got.Add(1) == s.want {
				s.close.Do(func() { close(s.done) })
			}
			ok = reply("250 2.0.0 accepted", false)
		case "QUIT":
			reply("221 2.0.0 bye", true)
			return
		default: // HELO, MAIL, RCPT, RSET, NOOP
			ok = reply("250 2.0.0 ok", false)
		}
		if !ok {
			return
		}
	}
}

// readData reads a message up to its final "." line (RFC 5321 §4.1.1.4)
// and discards it, or keeps it, dot-unstuffed, while the sink lacks
// samples.
func (s *sink) readData(r *bufio.Reader) error {
	s.mu.Lock()
	var keep []byte
	if len(s.samples) < relaySamples {
		keep = make([]byte, 0, 8<<10)
	}
	s.mu.Unlock()
	atStart := true
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if keep != nil {
				keep = append(keep, line...)
			}
			atStart = false
			continue
		}
		if err != nil {
			return err
		}
		if atStart && string(line) == ".\r\n" {
			break
		}
		if keep != nil {
			if atStart && line[0] == '.' {
				line = line[1:] // §4.5.2 transparency
			}
			keep = append(keep, line...)
		}
		atStart = true
	}
	if keep != nil {
		s.mu.Lock()
		if len(s.samples) < relaySamples {
			s.samples = append(s.samples, keep)
		}
		s.mu.Unlock()
	}
	return nil
}

// relayResult is one run of the relay workload.
type relayResult struct {
	wall   time.Duration   // first submission to the sink's last message
	submit time.Duration   // first submission to the last client's 250
	lat    []time.Duration // per transaction: MAIL to the 250 after DATA
}

// runRelay submits relayMessages messages on relayConns connections, many
// transactions each (AUTH PLAIN once per connection when auth is set), to
// relayRcpt, and waits until sk has them all.
func runRelay(b *testing.B, addr string, auth bool, sk *sink) relayResult {
	lat := make([]time.Duration, relayMessages)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, relayConns)
	start := time.Now()
	for range relayConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := relayConn(addr, auth, &next, lat); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	submit := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := sk.wait(relayLimit - time.Since(start)); err != nil {
		b.Fatal(err)
	}
	return relayResult{wall: time.Since(start), submit: submit, lat: lat}
}

// relayConn is one client connection taking message numbers from next.
func relayConn(addr string, auth bool, next *atomic.Int64, lat []time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(relayLimit))
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("loadgen.example.net"); err != nil {
		return err
	}
	if auth {
		if err := c.Auth(sasl.NewPlainClient("", relaySender, "benchpass")); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	for {
		i := int(next.Add(1)) - 1
		if i >= relayMessages {
			return c.Quit()
		}
		msg := strings.Replace(string(genMessage(i, messageSize, relayRcpt)), "From: loadgen@example.net", "From: "+relaySender, 1)
		t0 := time.Now()
		if err := c.SendMail(relaySender, []string{relayRcpt}, strings.NewReader(msg)); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		lat[i] = time.Since(t0)
	}
}

// reportRelay reports the figures common to BenchmarkRelay and
// BenchmarkRelayPostfix; cpu is the server's CPU seconds over the run.
func reportRelay(b *testing.B, res relayResult, cpu float64) {
	slices.Sort(res.lat)
	b.ReportMetric(float64(relayMessages)/res.wall.Seconds(), "msgs/s")
	// Submission alone: when it is close to msgs/s, relaying kept pace.
	b.ReportMetric(float64(relayMessages)/res.submit.Seconds(), "submit-msgs/s")
	b.ReportMetric(cpu*1000/relayMessages, "server-cpu-ms/msg")
	b.ReportMetric(float64(res.lat[len(res.lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.lat[len(res.lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRelay: 5,000 messages of 4 KiB submitted on 8 connections
// authenticated with AUTH PLAIN on the submission port, to a remote
// recipient, relayed through [outbound] relay_host to a loopback sink;
// timed from the first submission until the sink has all 5,000. p50/p99
// are per transaction (MAIL to the 250 after DATA: the message is durably
// queued then). Run with -benchtime 1x; BenchmarkRelayPostfix runs the same
// workload through Postfix.
//
// Postern DKIM-signs every message (Ed25519 and RSA-2048). There is no
// setting to turn that off; the no-dkim variant retires the domain's keys
// through the store, to show what signing costs.
func BenchmarkRelay(b *testing.B) {
	b.Run("dkim", func(b *testing.B) { benchRelay(b, true) })
	b.Run("no-dkim", func(b *testing.B) { benchRelay(b, false) })
}

func benchRelay(b *testing.B, dkim bool) {
	for range b.N {
		sk := startSink(b, relayMessages)
		s, txt := startRelayServer(b, sk.addr(), dkim)
		time.Sleep(500 * time.Millisecond)
		cpu0, _, _ := procStats(s.cmd.Process.Pid)
		res := runRelay(b, s.subm, true, sk)
		cpu1, _, peak := procStats(s.cmd.Process.Pid)
		reportRelay(b, res, cpu1-cpu0)
		b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
		checkSigned(b, sk, txt)
	}
}

// startRelayServer is startServer with the queue relaying everything remote
// to relayHost in clear text, user bench1 with a cheap password (one AUTH
// per connection; argon2id is BenchmarkSubmissionLatency's subject), and
// the domain's DKIM keys retired unless dkim is set. It returns the DKIM
// key records (nil without dkim).
func startRelayServer(b *testing.B, relayHost string, dkim bool) (*server, map[string]string) {
	s := initServer(b, func(text string) string {
		text = setKey(text, "log", "level", `"warn"`)
		return setSection(text, "outbound", map[string]string{"relay_host": fmt.Sprintf("%q", relayHost), "relay_tls": `"none"`})
	})
	s.run("domain", "add", "bench.test")
	s.run("user", "add", relaySender, "--password-stdin")
	cheapPassword(b, s.dir, relaySender)
	var txt map[string]string
	if dkim {
		txt = posternTXT(b, s.dir, "bench.test")
	} else {
		retireDKIM(b, s.dir, "bench.test")
	}
	s.serve(s.subm)
	return s, txt
}

// setSection sets keys in [section] of a config, appending the section or
// a key when the file lacks it.
func setSection(text, section string, keys map[string]string) string {
	if !strings.Contains(text, "\n["+section+"]") && !strings.HasPrefix(text, "["+section+"]") {
		text += "\n[" + section + "]\n"
	}
	for k, v := range keys {
		set := setKey(text, section, k, v)
		if set == text && !strings.Contains(text, "  "+k+" = "+v) {
			set = strings.Replace(text, "["+section+"]\n", "["+section+"]\n  "+k+" = "+v+"\n", 1)
		}
		text = set
	}
	return text
}

// retireDKIM leaves domain without active DKIM keys, so nothing is signed.
func retireDKIM(b *testing.B, dir, domain string) {
	st, err := sqlstore.OpenDir(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.RotateDKIMKeys(context.Background(), domain, nil); err != nil {
		b.Fatal(err)
	}
}
