package imapd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"postern/internal/blob"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
)

// benchMailboxSize is the mailbox SEARCH, SORT and THREAD run over in the
// benchmarks, the size BenchmarkSearchSubstring of sqlstore uses.
const benchMailboxSize = 10000

// BenchmarkSearchSortThread times SEARCH, SORT and THREAD over the wire on
// a mailbox of 10,000 small messages (threads of four, one message in a
// hundred with a rare word, the first half \Seen), from the command to
// its tagged reply: what a client waits for.
func BenchmarkSearchSortThread(b *testing.B) {
	conn := newSearchBench(b, benchMailboxSize)
	for _, c := range []struct{ name, cmd string }{
		{"Search/flags", "SEARCH UNSEEN"},
		{"Search/uid-range", "UID SEARCH UID 100:200"},
		{"Search/sentdate", "SEARCH SENTSINCE 1-Jun-2024"},
		{"Search/body", "SEARCH BODY needleword"},
		{"Search/body-midword", "SEARCH BODY eedlewor"},
		{"Search/text", "SEARCH TEXT needleword"},
		{"Search/subject", "SEARCH SUBJECT topic-42"},
		{"Search/header-absent", `SEARCH HEADER X-Nothing ""`},
		{"Search/flags-and-body", "SEARCH UNSEEN BODY needleword"},
		{"Sort/arrival", "SORT (ARRIVAL) UTF-8 ALL"},
		{"Sort/size", "SORT (REVERSE SIZE) UTF-8 ALL"},
		{"Sort/date", "SORT (DATE) UTF-8 ALL"},
		{"Sort/subject", "SORT (SUBJECT) UTF-8 ALL"},
		{"Sort/from", "SORT (FROM DATE) UTF-8 ALL"},
		{"Thread/orderedsubject", "THREAD ORDEREDSUBJECT UTF-8 ALL"},
		{"Thread/references", "THREAD REFERENCES UTF-8 ALL"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				conn.run(b, c.cmd)
			}
		})
	}
}

// benchConn is a logged-in connection with INBOX selected.
type benchConn struct {
	c  net.Conn
	br *bufio.Reader
	n  int
	// firstWait sums, over fetchAll's commands, the time from sending the
	// command to reading its first FETCH response.
	firstWait time.Duration
}

// run sends one command and reads to its tagged OK.
func (bc *benchConn) run(b *testing.B, cmd string) {
	bc.n++
	tag := fmt.Sprintf("b%d", bc.n)
	if _, err := io.WriteString(bc.c, tag+" "+cmd+"\r\n"); err != nil {
		b.Fatal(err)
	}
	for {
		l, err := bc.br.ReadString('\n')
		if err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				b.Fatalf("%s: %s", cmd, l)
			}
			return
		}
	}
}

// newSearchBench fills INBOX with n messages and returns a connection
// with it selected.
func newSearchBench(b *testing.B, n int) *benchConn {
	return newFetchBench(b, n, benchMessage)
}

// newFetchBench fills INBOX with n messages made by gen, marks the first
// half \Seen and returns a connection with INBOX selected.
func newFetchBench(b *testing.B, n int, gen func(int) string) *benchConn {
	b.Helper()
	dir := b.TempDir()
	blobs, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: filepath.Join(dir, "meta.db"), Blobs: blobs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := st.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	acct, err := st.AddAccount(ctx, testUser, store.Credentials{PasswordHash: "x"})
	if err != nil {
		b.Fatal(err)
	}
	fillSearchBench(b, st, acct.ID, n, gen)
	// The background indexer would otherwise share the CPU with the
	// first figures.
	if err := st.FlushIndex(ctx); err != nil {
		b.Fatal(err)
	}
	srv := New(Config{
		Hostname:       "mail.example.org",
		AllowPlaintext: func(net.Addr) bool { return true },
		Auth:           &testAuth{st: st, users: map[string]string{testUser: testPass}},
		Store:          st,
		Parse:          parseMeta,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l, false)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	bc := &benchConn{c: c, br: bufio.NewReaderSize(c, 64<<10)}
	if _, err := bc.br.ReadString('\n'); err != nil {
		b.Fatal(err)
	}
	bc.run(b, "LOGIN "+testUser+" "+testPass)
	bc.run(b, "SELECT INBOX")
	bc.run(b, fmt.Sprintf(`STORE 1:%d +FLAGS.SILENT (\Seen)`, n/2))
	return bc
}

// fillSearchBench delivers n messages to the account's INBOX from
// several goroutines, so that they share commits.
func fillSearchBench(b *testing.B, st *sqlstore.Store, acct int64, n int, gen func(int) string) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				raw := gen(i)
				meta, err := parseMeta(strings.NewReader(raw))
				if err != nil {
					b.Error(err)
					return
				}
				nb := store.NewBlob{Body: store.BytesBody(raw), Meta: meta}
				date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
				out, err := st.Deliver(context.Background(), store.Delivery{Blob: nb, InternalDate: date, Targets: []store.DeliveryTarget{{AccountID: acct}}})
				if err != nil || out.Targets[0].Err != nil {
					b.Errorf("deliver: %v %v", err, out)
					return
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// benchMessage is message i: threads of four (a root and three replies
// referencing it), a hundred senders, a rare word in one in a hundred.
func benchMessage(i int) string {
	root := i - i%4
	subject := fmt.Sprintf("topic-%d meeting notes", root/4%500)
	refs := ""
	if i != root {
		subject = "Re: " + subject
		refs = fmt.Sprintf("References: <m%d@example.net>\r\nIn-Reply-To: <m%d@example.net>\r\n", root, root)
	}
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ", 12)
	if i%100 == 0 {
		body += "needleword\r\n"
	}
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*7%n10k) * time.Hour)
	return fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: alice@example.org\r\nSubject: %s\r\n"+
		"Date: %s\r\nMessage-ID: <m%d@example.net>\r\n%s\r\n%s\r\n",
		i%100, i%100, subject, date.Format(time.RFC1123Z), i, refs, body)
}

// n10k spreads sent dates over the year, out of arrival order.
const n10k = 10007

// processCPU is the CPU time (user and system) the test process has used:
// on a shared machine a figure of CPU per operation is steadier than one
// of wall time. It counts the client's work as well as the server's.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
