package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The browser tests run Node scripts under testdata/browser that drive
// Debian's Chromium with playwright-core (both installed by
// scripts/deps.sh). A script reads its input as JSON on stdin and prints
// one JSON object on stdout; the Go test asserts it.

const browserDir = "testdata/browser"

// chromiumPath is Debian's Chromium; playwright-core never downloads one.
const chromiumPath = "/usr/bin/chromium"

// browserMu runs one browser script at a time: Chromium is heavy on a
// two-core machine and timings of one must not suffer from another.
var browserMu sync.Mutex

// runBrowser runs node testdata/browser/<script> with input on stdin,
// bounded by timeout (the process group, Chromium included, is killed
// then), and decodes its stdout into out.
func runBrowser(t testing.TB, script string, input any, timeout time.Duration, out any) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed in e2e/%s: run scripts/deps.sh", browserDir)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: run scripts/deps.sh", chromiumPath)
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	browserMu.Lock()
	defer browserMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	t.Logf("%s ran %v", script, time.Since(start).Round(time.Millisecond))
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", script, tail(stderr.String(), 16<<10))
	}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v", script, timeout)
	}
	if err != nil {
		t.Fatalf("%s: %v\nstdout: %s", script, err, tail(stdout.String(), 8<<10))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s output is not JSON: %v\n%s", script, err, tail(stdout.String(), 8<<10))
	}
}

// browserStep is one named step of a UI script: ok, or the error the
// script met (a selector that never showed, a wrong text...).
type browserStep struct {
	Name  string         `json:"name"`
	OK    bool           `json:"ok"`
	Error string         `json:"error"`
	Info  map[string]any `json:"info"`
	Ms    int            `json:"ms"`
}

// checkSteps fails the test once for each step that did not pass.
func checkSteps(t testing.TB, steps []browserStep) {
	t.Helper()
	if len(steps) == 0 {
		t.Errorf("the browser script reported no steps")
	}
	for _, s := range steps {
		if s.OK {
			t.Logf("step %-28s ok (%d ms)", s.Name, s.Ms)
			continue
		}
		t.Errorf("webmail UI step %q: %s", s.Name, s.Error)
	}
}

// beaconHit is one connection or request that reached the beacon.
type beaconHit struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // "http", "tls" (a handshake: an https URL), "other"
	Method string    `json:"method,omitempty"`
	Host   string    `json:"host,omitempty"`
	Path   string    `json:"path,omitempty"`
	Accept string    `json:"accept,omitempty"`
	Dest   string    `json:"dest,omitempty"` // Sec-Fetch-Dest, when sent
}

// beacon stands in for every remote host of the messages: Chromium runs
// with --host-resolver-rules mapping every name but 127.0.0.1 to it, so a
// request for any remote URL, http or https, lands here and is logged.
// GET <control>/hits?since=N[&host=H] returns the log from entry N on
// (only the hits for host H); the control prefix is random so that no
// message can guess it.
type beacon struct {
	addr    string
	control string

	mu   sync.Mutex
	hits []beaconHit
}

// a 1×1 transparent GIF, so that images loaded after "allow" decode.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func startBeacon(t testing.TB) *beacon {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &beacon{addr: l.Addr().String(), control: "/__beacon-" + uniq()}
	conns := make(chan net.Conn)
	httpL := &chanListener{addr: l.Addr(), conns: conns, done: make(chan struct{})}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(httpL)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go b.sniff(c, conns, httpL.done)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		close(httpL.done)
		srv.Close()
	})
	return b
}

// sniff reads a connection's first byte: a TLS handshake is logged and
// closed, anything else is served as HTTP.
func (b *beacon) sniff(c net.Conn, conns chan<- net.Conn, done <-chan struct{}) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	if first[0] == 0x16 {
		// Read the ClientHello for its server name, then give up.
		var sni string
		srv := tls.Server(&peekedConn{Conn: c, r: br}, &tls.Config{
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				sni = h.ServerName
				return nil, errors.New("beacon: no TLS")
			},
		})
		srv.SetDeadline(time.Now().Add(5 * time.Second))
		_ = srv.Handshake()
		b.log(beaconHit{Kind: "tls", Host: sni})
		c.Close()
		return
	}
	select {
	case conns <- &peekedConn{Conn: c, r: br}:
	case <-done:
		c.Close()
	}
}

func (b *beacon) log(h beaconHit) {
	h.At = time.Now()
	b.mu.Lock()
	b.hits = append(b.hits, h)
	b.mu.Unlock()
}

func (b *beacon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, b.control+"/") && (r.Host == b.addr) {
		var since int
		fmt.Sscan(r.URL.Query().Get("since"), &since)
		host := r.URL.Query().Get("host")
		b.mu.Lock()
		var hits []beaconHit
		for _, h := range b.hits[min(max(since, 0), len(b.hits)):] {
			if host == "" || hostOnly(h.Host) == host {
				hits = append(hits, h)
			}
		}
		n := len(b.hits)
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"total": n, "hits": hits})
		return
	}
	b.log(beaconHit{Kind: "http", Method: r.Method, Host: r.Host, Path: r.URL.RequestURI(), Accept: r.Header.Get("Accept"), Dest: r.Header.Get("Sec-Fetch-Dest")})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "image/gif")
	w.Write(pixelGIF)
}

// hostOnly strips the port of a Host header, lower-cased.
func hostOnly(h string) string {
	h = strings.ToLower(h)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return h
}

// Hits returns a copy of the log.
func (b *beacon) Hits() []beaconHit {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]beaconHit{}, b.hits...)
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener hands the sniffed plain connections to http.Server.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, errors.New("beacon closed")
	}
}

func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }
