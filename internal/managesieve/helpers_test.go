package managesieve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"postern/internal/auth"
	"postern/internal/store"
)

// fakeScripts is an in-memory Scripts with the rules the admin service
// enforces: a script containing "invalid" does not compile, one
// containing "warn" compiles with warnings, one containing "explode"
// makes the store fail; at most maxScripts scripts of maxSize octets.
type fakeScripts struct {
	mu         sync.Mutex
	scripts    map[int64]map[string][]byte
	active     map[int64]string
	maxScripts int
	maxSize    int64
}

func newFakeScripts() *fakeScripts {
	return &fakeScripts{
		scripts:    make(map[int64]map[string][]byte),
		active:     make(map[int64]string),
		maxScripts: 5,
		maxSize:    100 << 10,
	}
}

var errExplode = errors.New("disk on fire")

// compile stands in for the Sieve checker; the admin side wraps its
// errors, so do we.
func compile(src []byte) error {
	switch {
	case bytes.Contains(src, []byte("explode")):
		return fmt.Errorf("admin: put script: %w", errExplode)
	case bytes.Contains(src, []byte("invalid")):
		return fmt.Errorf("admin: put script: %w", &InvalidScriptError{Msg: `line 3, column 5: unknown command "invalid"`})
	case bytes.Contains(src, []byte("warn")):
		return &WarningsError{Msg: "line 1, column 1: deprecated"}
	}
	return nil
}

func (f *fakeScripts) ListScripts(_ context.Context, id int64) ([]ScriptInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ScriptInfo
	for name := range f.scripts[id] {
		out = append(out, ScriptInfo{Name: name, Active: f.active[id] == name})
	}
	slices.SortFunc(out, func(a, b ScriptInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *fakeScripts) GetScript(_ context.Context, id int64, name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.scripts[id][name]
	if !ok {
		return nil, fmt.Errorf("admin: %w", ErrNotFound)
	}
	return slices.Clone(src), nil
}

func (f *fakeScripts) PutScript(_ context.Context, id int64, name string, src []byte) error {
	err := compile(src)
	var w *WarningsError
	if err != nil && !errors.As(err, &w) {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if int64(len(src)) > f.maxSize {
		return ErrQuotaSize
	}
	if f.scripts[id] == nil {
		f.scripts[id] = make(map[string][]byte)
	}
	if _, ok := f.scripts[id][name]; !ok && len(f.scripts[id]) >= f.maxScripts {
		return ErrQuotaScripts
	}
	f.scripts[id][name] = slices.Clone(src)
	return err
}

func (f *fakeScripts) CheckScript(_ context.Context, _ int64, src []byte) error {
	return compile(src)
}

func (f *fakeScripts) SetActive(_ context.Context, id int64, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "" {
		if _, ok := f.scripts[id][name]; !ok {
			return ErrNotFound
		}
	}
	f.active[id] = name
	return nil
}

func (f *fakeScripts) DeleteScript(_ context.Context, id int64, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.scripts[id][name]; !ok {
		return ErrNotFound
	}
	if f.active[id] == name {
		return ErrActive
	}
	delete(f.scripts[id], name)
	return nil
}

func (f *fakeScripts) RenameScript(_ context.Context, id int64, oldName, newName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.scripts[id][oldName]
	if !ok {
		return ErrNotFound
	}
	if _, ok := f.scripts[id][newName]; ok {
		return ErrExists
	}
	delete(f.scripts[id], oldName)
	f.scripts[id][newName] = src
	if f.active[id] == oldName {
		f.active[id] = newName
	}
	return nil
}

func (f *fakeScripts) HaveSpace(_ context.Context, id int64, name string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if size > f.maxSize {
		return ErrQuotaSize
	}
	if _, ok := f.scripts[id][name]; !ok && len(f.scripts[id]) >= f.maxScripts {
		return ErrQuotaScripts
	}
	return nil
}

func (f *fakeScripts) get(id int64, name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.scripts[id][name]
	return string(src), ok
}

func (f *fakeScripts) activeName(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active[id]
}

// fakeAuth knows a few accounts; "throttled@x" is always throttled,
// "broken@x" makes the directory fail.
type fakeAuth struct {
	users map[string]fakeUser
}

type fakeUser struct {
	id   int64
	pass string
}

func (a *fakeAuth) Login(_ context.Context, _ netip.Addr, username, password string) (store.Account, error) {
	username = strings.ToLower(username)
	switch username {
	case "throttled@x":
		return store.Account{}, auth.ErrThrottled
	case "broken@x":
		return store.Account{}, errors.New("directory unavailable")
	}
	u, ok := a.users[username]
	if !ok || u.pass != password {
		return store.Account{}, auth.ErrFailed
	}
	return store.Account{ID: u.id, Address: username}, nil
}

// testEnv is a running server with its fakes.
type testEnv struct {
	t       *testing.T
	srv     *Server
	scripts *fakeScripts
	addr    string
	logs    *syncBuffer
	tlsConf *tls.Config // the client side, when TLS is on
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs a server on loopback. mod may change the config; by
// default plaintext authentication is allowed and TLS is off.
func startServer(t *testing.T, mod func(*Config)) *testEnv {
	t.Helper()
	return startWith(t, false, false, mod)
}

// startTLSServer runs a server with a self-signed certificate and no
// plaintext authentication.
func startTLSServer(t *testing.T, implicitTLS bool, mod func(*Config)) *testEnv {
	t.Helper()
	return startWith(t, true, implicitTLS, func(c *Config) {
		c.AllowPlaintext = nil
		if mod != nil {
			mod(c)
		}
	})
}

func startWith(t *testing.T, tlsOn, implicitTLS bool, mod func(*Config)) *testEnv {
	t.Helper()
	fs := newFakeScripts()
	logs := &syncBuffer{}
	serverTLS, clientTLS := selfSigned(t)
	cfg := Config{
		Hostname: "sieve.test",
		TLS:      serverTLS,
		Auth: &fakeAuth{users: map[string]fakeUser{
			"alice@x": {1, "secret"},
			"bob@x":   {2, "pass word"},
		}},
		Scripts:        fs,
		Extensions:     "fileinto  reject envelope",
		MaxRedirects:   4,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
		AllowPlaintext: func(net.Addr) bool { return true },
	}
	if !tlsOn {
		cfg.TLS = nil
	}
	if mod != nil {
		mod(&cfg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l, implicitTLS) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testEnv{t: t, srv: srv, scripts: fs, addr: l.Addr().String(), logs: logs, tlsConf: clientTLS}
}

// client is a ManageSieve test client: it sends raw lines and reads
// responses, literals included.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	// greeting is the capability response that opened the session.
	greeting []string
}

// dial connects and reads the greeting.
func (e *testEnv) dial() *client {
	e.t.Helper()
	c := e.dialRaw()
	data, final := c.resp()
	if !strings.HasPrefix(final, "OK") {
		e.t.Fatalf("greeting ended with %q", final)
	}
	c.greeting = data
	return c
}

func (e *testEnv) dialRaw() *client {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return &client{t: e.t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) line() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading response: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("response %q does not end in CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

var literalAtEnd = regexp.MustCompile(`\{(\d+)\}$`)

// logicalLine reads one line with any literals it holds spliced in.
func (c *client) logicalLine() string {
	c.t.Helper()
	l := c.line()
	for {
		m := literalAtEnd.FindStringSubmatch(l)
		if m == nil {
			return l
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			c.t.Fatalf("reading literal: %v", err)
		}
		l = l[:len(l)-len(m[0])] + "<" + string(buf) + ">" + c.line()
	}
}

// resp reads a complete response: data lines, then the final OK, NO or
// BYE line. Literals appear in place as <octets>.
func (c *client) resp() (data []string, final string) {
	c.t.Helper()
	for {
		l := c.logicalLine()
		if l == "OK" || l == "NO" || l == "BYE" || strings.HasPrefix(l, "OK ") ||
			strings.HasPrefix(l, "NO ") || strings.HasPrefix(l, "BYE ") {
			return data, l
		}
		data = append(data, l)
	}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends one command line and reads its response.
func (c *client) cmd(line string) ([]string, string) {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.resp()
}

// ok sends a command and fails unless it gets OK; it returns the data.
func (c *client) ok(line string) []string {
	c.t.Helper()
	data, final := c.cmd(line)
	if !strings.HasPrefix(final, "OK") {
		c.t.Fatalf("%s: want OK, got %q", trunc(line), final)
	}
	return data
}

// expect sends a command and fails unless the final response starts
// with want.
func (c *client) expect(line, want string) string {
	c.t.Helper()
	_, final := c.cmd(line)
	if !strings.HasPrefix(final, want) {
		c.t.Fatalf("%s: want %q, got %q", trunc(line), want, final)
	}
	return final
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func plainB64(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func (c *client) login(user, pass string) {
	c.t.Helper()
	c.ok(`AUTHENTICATE "PLAIN" "` + plainB64(user, pass) + `"`)
}

// expectClosed asserts the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil {
		c.t.Fatalf("want EOF, got %v after %q", err, rest)
	}
}

// startTLS upgrades the client after the server's OK to STARTTLS.
func (c *client) startTLS(conf *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, conf)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

// capability returns the value of a capability line in data, and whether
// it is there.
func capability(data []string, name string) (string, bool) {
	for _, l := range data {
		k, v, _ := strings.Cut(l, " ")
		if strings.EqualFold(k, `"`+name+`"`) {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// selfSigned returns a TLS config with a fresh self-signed certificate for
// 127.0.0.1, and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sieve.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"sieve.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "sieve.test"}
	return server, client
}
