package pop3d

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
)

// BenchmarkRETR retrieves 4 KiB messages from a 2,000-message maildrop in
// one session, one command at a time, as a simple client does.
func BenchmarkRETR(b *testing.B) {
	fs := newFakeStore()
	fs.chunk = 0
	line := strings.Repeat("x", 76) + "\r\n"
	body := "Subject: bench\r\n\r\n" + strings.Repeat(line, 4096/len(line))
	for range 2000 {
		fs.add(1, body)
	}
	cfg := Config{
		Auth:           &fakeAuth{users: map[string]fakeUser{"alice@x": {1, "secret"}}},
		Store:          fs,
		AllowPlaintext: func(net.Addr) bool { return true },
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := New(cfg)
	go srv.Serve(l, false)
	defer srv.Shutdown(b.Context())
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	r.ReadString('\n')
	fmt.Fprintf(conn, "USER alice@x\r\nPASS secret\r\n")
	r.ReadString('\n')
	if s, _ := r.ReadString('\n'); !strings.HasPrefix(s, "+OK") {
		b.Fatalf("login: %q", s)
	}
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		fmt.Fprintf(conn, "RETR %d\r\n", i%2000+1)
		i++
		if err := readMulti(r); err != nil {
			b.Fatal(err)
		}
	}
}

func readMulti(r *bufio.Reader) error {
	first, err := r.ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(first, []byte("+OK")) {
		return fmt.Errorf("reply %q: %v", first, err)
	}
	for {
		l, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if string(l) == ".\r\n" {
			return nil
		}
	}
}
