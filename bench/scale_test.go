//go:build scale

package bench

import (
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// BenchmarkScale delivers 1,000,000 messages (9 in 10 of 4 KiB, 1 in 10 of
// 100 KiB) over SMTP to 200 accounts of one instance, one of which gets
// 100,000 of them, and reports the delivery rate of the first and of the
// last 50,000 (flat cost as the store grows), then times SELECT and a
// SEARCH BODY on the 100,000-message mailbox and prints the sizes of the
// database and of the segments. It takes long: `make bench-scale`
// (SCALE_N changes the number of messages).
func BenchmarkScale(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SCALE_N")); err == nil && v >= 10000 {
		n = v
	}
	const accounts = 200
	window := min(50000, n/10)
	s := initServer(b, nil)
	s.run("domain", "add", "bench.test")
	for i := 1; i <= accounts; i++ {
		s.run("user", "add", fmt.Sprintf("bench%d@bench.test", i), "--password-stdin")
	}
	s.serve(s.smtp, s.imap)
	big := n / 10 // bench1's share: 100,000 of 1,000,000
	var done atomic.Int64
	rates, cpuPerMsg := deliverScale(b, s, n, big, accounts, window, &done)
	b.ReportMetric(rates[0], "msgs/s_first_window")
	b.ReportMetric(rates[len(rates)-1], "msgs/s_last_window")
	b.ReportMetric(rates[len(rates)-1]/rates[0], "last/first")
	b.ReportMetric(cpuPerMsg[0], "cpu_ms/msg_first_window")
	b.ReportMetric(cpuPerMsg[len(cpuPerMsg)-1], "cpu_ms/msg_last_window")
	for i, r := range rates {
		b.Logf("window %d (messages %d to %d): %.0f msgs/s, server CPU %.3f ms/msg", i+1, i*window, (i+1)*window, r, cpuPerMsg[i])
	}
	time.Sleep(5 * time.Second) // let the indexer catch up, as a server would have
	ic := dialIMAP(b, s.imap, "bench1@bench.test", "benchpass")
	defer ic.close()
	exists := ""
	t := time.Now()
	ic.must("SELECT INBOX", func(l string) {
		if strings.HasSuffix(l, " EXISTS") {
			exists = l
		}
	})
	b.ReportMetric(float64(time.Since(t).Milliseconds()), "select_ms")
	b.Logf("SELECT INBOX of bench1: %s", exists)
	hits := 0
	t = time.Now()
	ic.must("UID SEARCH BODY tok42q", func(l string) {
		if strings.HasPrefix(l, "* SEARCH") {
			hits = len(strings.Fields(l)) - 2
		}
	})
	b.ReportMetric(float64(time.Since(t).Milliseconds()), "search_body_ms")
	b.Logf("SEARCH BODY: %d hits", hits)
	db, wal, segs := fileSize(filepath.Join(s.dir, "postern.db")), fileSize(filepath.Join(s.dir, "postern.db-wal")), dirSize(filepath.Join(s.dir, "blobs"))
	b.ReportMetric(float64(db)/(1<<20), "db_MiB")
	b.ReportMetric(float64(fileSize(filepath.Join(s.dir, "text.db")))/(1<<20), "text_db_MiB")
	b.ReportMetric(float64(wal)/(1<<20), "wal_MiB")
	b.ReportMetric(float64(segs)/(1<<20), "bodies_MiB")
	_, rss, peak := procStats(s.cmd.Process.Pid)
	b.ReportMetric(float64(rss)/1024, "rss_MiB")
	b.ReportMetric(float64(peak)/1024, "peak_rss_MiB")
	logLargest(b, filepath.Join(s.dir, "postern.db"))
}

// logLargest prints the largest tables and indexes of a database: what a
// grown store spends its metadata bytes on.
func logLargest(b *testing.B, path string) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12`)
	if err != nil {
		b.Logf("dbstat: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var size int64
		if rows.Scan(&name, &size) == nil {
			b.Logf("%-28s %8.1f MiB", name, float64(size)/(1<<20))
		}
	}
}

// deliverScale sends n messages over 8 connections and returns the
// delivery rate and the server's CPU time per message (user + system, in
// ms; less sensitive than the rate to other work on the machine) of each
// window of messages. With POSTERN_CPUPROFILE set, the server starts a new
// profile at each window (SIGUSR1): PATH.1 is the second window, and so on.
func deliverScale(b *testing.B, s *server, n, big, accounts, window int, done *atomic.Int64) (rates, cpuPerMsg []float64) {
	addr := s.smtp
	pid := s.cmd.Process.Pid
	rotateProfile := os.Getenv("POSTERN_CPUPROFILE") != ""
	var next atomic.Int64
	var mu sync.Mutex
	cpu0, _, _ := procStats(pid)
	marks := []time.Time{time.Now()}
	cpus := []float64{cpu0}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.Hello("loadgen.bench.test")
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				rcpt := fmt.Sprintf("bench%d@bench.test", 2+i%(accounts-1))
				if i%10 == 0 && i/10 < big {
					rcpt = "bench1@bench.test" // every tenth: the large mailbox
				}
				size := 4096
				if i%10 == 3 {
					size = 100 << 10
				}
				if err := c.SendMail("loadgen@example.net", []string{rcpt}, strings.NewReader(scaleMessage(i, size, rcpt))); err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
					return
				}
				if d := done.Add(1); d%int64(window) == 0 {
					mu.Lock()
					cpu, _, _ := procStats(pid)
					marks = append(marks, time.Now())
					cpus = append(cpus, cpu)
					if rotateProfile {
						_ = s.cmd.Process.Signal(syscall.SIGUSR1)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	for i := 1; i < len(marks); i++ {
		rates = append(rates, float64(window)/marks[i].Sub(marks[i-1]).Seconds())
		cpuPerMsg = append(cpuPerMsg, (cpus[i]-cpus[i-1])*1000/float64(window))
	}
	return rates, cpuPerMsg
}

var scaleWords = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu mail server queue message deliver storage index folder search benchmark latency the and of to in report meeting invoice project")

// scaleMessage is a text message of about size bytes; message i carries
// the token tok<(i/10)%100>q in its body, so a search for one hits 1 in
// 100 of bench1's messages (every tenth message).
func scaleMessage(i, size int, to string) string {
	r := rand.New(rand.NewSource(int64(i)))
	var sb strings.Builder
	fmt.Fprintf(&sb, "From: Load <loadgen@example.net>\r\nTo: <%s>\r\nSubject: scale message %d %s\r\n", to, i, scaleWords[r.Intn(len(scaleWords))])
	fmt.Fprintf(&sb, "Date: %s\r\nMessage-ID: <scale-%d@bench.test>\r\n\r\n", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second).Format(time.RFC1123Z), i)
	fmt.Fprintf(&sb, "Message %d with token tok%02dq.\r\n", i, (i/10)%100)
	line := 0
	for sb.Len() < size {
		w := scaleWords[r.Intn(len(scaleWords))]
		sb.WriteString(w)
		if line += len(w) + 1; line > 70 {
			sb.WriteString("\r\n")
			line = 0
		} else {
			sb.WriteByte(' ')
		}
	}
	sb.WriteString("\r\n")
	return sb.String()
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func dirSize(dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	return total
}
