package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIMAP100k fills a mailbox with 100,000 mixed MIME messages over
// several pipelined connections, then times SELECT and FETCH 1:* (UID
// FLAGS) on a fresh connection (issue #3: under 1 s each), and the APPEND
// rate at the start and at the end of the fill (it must not fall as the
// mailbox grows).
func BenchmarkIMAP100k(b *testing.B) {
	const conns, size = 4, 3000
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("IMAP_BENCH_N")); err == nil && v >= 30000 {
		n = v // a quicker look; the figure of record is at 100,000
	}
	s := startIMAPServer(b)
	ic := dialIMAP(b, s.imap, "bench1@bench.test", s.appPass)
	defer ic.close()
	ic.must("CREATE big", nil)
	t0 := time.Now()
	fill(b, s.imap, "bench1@bench.test", "big", 10000, conns, size)
	first := time.Since(t0)
	fill(b, s.imap, "bench1@bench.test", "big", n-20000, conns, size)
	t1 := time.Now()
	fill(b, s.imap, "bench1@bench.test", "big", 10000, conns, size)
	last := time.Since(t1)
	fillTime := time.Since(t0)
	b.ResetTimer() // it also clears metrics: report them after
	for range b.N {
		c := dialIMAP(b, s.imap, "bench1@bench.test", s.appPass)
		exists := ""
		t := time.Now()
		c.must("SELECT big", func(l string) {
			if strings.HasSuffix(l, " EXISTS") {
				exists = l
			}
		})
		sel := time.Since(t)
		if exists != fmt.Sprintf("* %d EXISTS", n) {
			b.Fatalf("SELECT: %q", exists)
		}
		got := 0
		t = time.Now()
		c.must("FETCH 1:* (UID FLAGS)", func(string) { got++ })
		fetch := time.Since(t)
		if got != n {
			b.Fatalf("FETCH: %d responses", got)
		}
		b.ReportMetric(float64(sel.Milliseconds()), "select_ms")
		b.ReportMetric(float64(fetch.Milliseconds()), "fetch_uid_flags_ms")
		b.ReportMetric(jmapEmailGet50(b, s, n), "jmap_email_get50_ms")
		b.ReportMetric(jmapEmailQuery50(b, s), "jmap_email_query50_ms")
		b.ReportMetric(imapSearchFetch50(b, c), "imap_search_fetch50_ms")
		c.close()
	}
	b.ReportMetric(10000/first.Seconds(), "append/s_first10k")
	b.ReportMetric(10000/last.Seconds(), "append/s_last10k")
	b.ReportMetric(fillTime.Seconds(), "fill_s")
	_, rss, peak := procStats(s.cmd.Process.Pid)
	b.ReportMetric(float64(rss)/1024, "rss_MiB")
	b.ReportMetric(float64(peak)/1024, "peak_rss_MiB")
}

// raiseNoFile lifts this process's open-files limit to its hard limit.
func raiseNoFile(b *testing.B, need uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Fatal(err)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		b.Fatal(err)
	}
	if rl.Cur < need {
		b.Fatalf("open-files limit %d, need %d", rl.Cur, need)
	}
}

// idler is one connection left in IDLE.
type idler struct {
	ic  *imapc
	got chan struct{}
}

// BenchmarkIMAPIdle10k holds 10,000 connections in IDLE on one INBOX and
// reports the server's RSS per connection (goal under 64 KiB), then the
// time for one delivery over SMTP to reach every one of them as EXISTS.
func BenchmarkIMAPIdle10k(b *testing.B) {
	const n = 10000
	raiseNoFile(b, n+1000)
	s := startIMAPServer(b)
	time.Sleep(500 * time.Millisecond)
	_, base, _ := procStats(s.cmd.Process.Pid)
	idlers := make([]*idler, n)
	var wg sync.WaitGroup
	var failed atomic.Int32
	sem := make(chan struct{}, 32)
	for i := range idlers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ic := dialIMAP(b, s.imap, "bench1@bench.test", s.appPass)
			ic.must("SELECT INBOX", nil)
			ic.send("IDLE")
			ic.w.Flush()
			if l, err := ic.line(); err != nil || !strings.HasPrefix(l, "+") {
				failed.Add(1)
			}
			idlers[i] = &idler{ic: ic, got: make(chan struct{})}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d connections failed to IDLE", failed.Load())
	}
	time.Sleep(2 * time.Second) // let the server settle its buffers
	_, rss, _ := procStats(s.cmd.Process.Pid)
	b.ReportMetric(float64(rss-base)*1024/n/1024, "KiB/conn")
	b.ReportMetric(float64(rss)/1024, "rss_MiB")
	for _, id := range idlers {
		go func() {
			for {
				l, err := id.ic.line()
				if err != nil {
					return
				}
				if strings.HasSuffix(l, " EXISTS") {
					close(id.got)
					return
				}
			}
		}()
	}
	t0 := time.Now()
	sendAll(b, s.smtp, "bench1@bench.test", 1, 1)
	deadline := time.After(60 * time.Second)
	for i, id := range idlers {
		select {
		case <-id.got:
		case <-deadline:
			b.Fatalf("connection %d saw no EXISTS after 60 s", i)
		}
	}
	b.ReportMetric(float64(time.Since(t0).Milliseconds()), "fanout_ms")
	for _, id := range idlers {
		id.ic.c.Close()
	}
}

// jmapTokens are bench1's bearer tokens by server address: a client logs
// in once, as the webmail does, so that the times are those of the
// requests and not of a password hash each (Basic authentication runs
// argon2id on every request).
var jmapTokens sync.Map

// jmapAuth sets bench1's bearer token on req, logging in on first use.
func jmapAuth(b *testing.B, s *server, req *http.Request) {
	tok, ok := jmapTokens.Load(s.http)
	if !ok {
		login, err := http.NewRequest("POST", "http://"+s.http+"/jmap/auth/token", nil)
		if err != nil {
			b.Fatal(err)
		}
		login.SetBasicAuth("bench1@bench.test", "benchpass")
		resp, err := http.DefaultClient.Do(login)
		if err != nil {
			b.Fatal(err)
		}
		var got struct {
			AccessToken string `json:"accessToken"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || got.AccessToken == "" {
			b.Fatalf("token: %d %v", resp.StatusCode, err)
		}
		tok = got.AccessToken
		jmapTokens.Store(s.http, tok)
	}
	req.Header.Set("Authorization", "Bearer "+tok.(string))
}

// jmapPost sends a JMAP request as bench1 and returns the body.
func jmapPost(b *testing.B, s *server, body string) string {
	req, err := http.NewRequest("POST", "http://"+s.http+"/jmap/api", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	jmapAuth(b, s, req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.Fatalf("JMAP: %d %.300s", resp.StatusCode, out)
	}
	return string(out)
}

// jmapEmailQuery50 times the webmail's opening of the mailbox "big": one
// request with Email/query {inMailbox, receivedAt descending, limit 50,
// collapseThreads} and Email/get of those 50 by result reference; the
// median of 20, in milliseconds.
func jmapEmailQuery50(b *testing.B, s *server) float64 {
	const using = `{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[`
	mb := jmapPost(b, s, using+`["Mailbox/query",{"accountId":"a1","filter":{"name":"big"}},"0"]]}`)
	i := strings.Index(mb, `"ids":["`)
	if i < 0 {
		b.Fatalf("Mailbox/query: %.300s", mb)
	}
	id := mb[i+len(`"ids":["`):]
	id = id[:strings.IndexByte(id, '"')]
	body := using + `["Email/query",{"accountId":"a1","filter":{"inMailbox":"` + id + `"},` +
		`"sort":[{"property":"receivedAt","isAscending":false}],"limit":50,"collapseThreads":true},"q"],` +
		`["Email/get",{"accountId":"a1","#ids":{"resultOf":"q","name":"Email/query","path":"/ids"},` +
		`"properties":["id","threadId","keywords","from","subject","receivedAt","preview"]},"g"]]}`
	var times []float64
	for range 20 {
		t := time.Now()
		out := jmapPost(b, s, body)
		times = append(times, float64(time.Since(t).Microseconds())/1000)
		if strings.Count(out, `"preview"`) != 50 {
			b.Fatalf("Email/query+get: %.300s", out)
		}
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// imapSearchFetch50 is the same list over IMAP, as a client without SORT
// makes it: UID SEARCH ALL, then UID FETCH of the newest 50 (FLAGS
// ENVELOPE); the median of 20, in milliseconds.
func imapSearchFetch50(b *testing.B, c *imapc) float64 {
	var times []float64
	for range 20 {
		t := time.Now()
		var uids []string
		c.must("UID SEARCH ALL", func(l string) {
			if rest, ok := strings.CutPrefix(l, "* SEARCH "); ok {
				uids = strings.Fields(rest)
			}
		})
		if len(uids) < 50 {
			b.Fatalf("SEARCH: %d UIDs", len(uids))
		}
		got := 0
		c.must("UID FETCH "+strings.Join(uids[len(uids)-50:], ",")+" (FLAGS ENVELOPE)", func(string) { got++ })
		times = append(times, float64(time.Since(t).Microseconds())/1000)
		if got < 50 {
			b.Fatalf("FETCH: %d responses", got)
		}
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// jmapEmailGet50 times JMAP Email/get of 50 emails of the big mailbox
// (ids from the middle: a fresh store numbers messages from 1) over HTTP,
// and returns the median of 20 requests in milliseconds.
func jmapEmailGet50(b *testing.B, s *server, n int) float64 {
	var ids []string
	for i := n / 2; i < n/2+50; i++ {
		ids = append(ids, fmt.Sprintf("%q", fmt.Sprintf("e%d", i)))
	}
	body := `{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[["Email/get",` +
		`{"accountId":"a1","ids":[` + strings.Join(ids, ",") + `],"properties":["id","threadId","mailboxIds","keywords","from","subject","receivedAt","preview"]},"0"]]}`
	var times []float64
	for range 20 {
		req, err := http.NewRequest("POST", "http://"+s.http+"/jmap/api", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		jmapAuth(b, s, req)
		t := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		times = append(times, float64(time.Since(t).Microseconds())/1000)
		if resp.StatusCode != 200 || strings.Count(string(out), `"threadId"`) != 50 {
			b.Fatalf("Email/get: %d %.300s", resp.StatusCode, out)
		}
	}
	slices.Sort(times)
	return times[len(times)/2]
}
