package jmapmail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postern/internal/message"
	"postern/internal/store"
)

// BenchmarkEmailQuery100k is the webmail's opening request on a
// 100,000-message INBOX (EMAIL_BENCH_N to change it): Email/query
// {inMailbox, receivedAt descending, limit 50, collapseThreads} and
// Email/get of those 50 (preview, from, subject, keywords) by result
// reference, over HTTP through jmap.Server and the real sqlstore. It
// reports the median time of a request and the heap the server keeps
// after many requests (flat when nothing loads the mailbox).
func BenchmarkEmailQuery100k(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("EMAIL_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	e := newEnv(b, Options{})
	fillInbox(b, e, n)
	body := `{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[` +
		`["Email/query",{"accountId":"` + e.aid + `","filter":{"inMailbox":"` + e.id("INBOX") + `"},` +
		`"sort":[{"property":"receivedAt","isAscending":false}],"limit":50,"collapseThreads":true},"q"],` +
		`["Email/get",{"accountId":"` + e.aid + `","#ids":{"resultOf":"q","name":"Email/query","path":"/ids"},` +
		`"properties":["id","threadId","keywords","from","subject","receivedAt","preview"]},"g"]]}`
	post := func() { postJMAP(b, e, body, 50) }
	// The text index is built after delivery: let it finish, so that
	// it does not compete with the requests timed.
	if err := e.st.FlushIndex(context.Background()); err != nil {
		b.Fatal(err)
	}
	post() // warm the caches
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var times []float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		post()
		times = append(times, float64(time.Since(t).Microseconds())/1000)
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2], "query50+get_ms")
	b.ReportMetric(times[len(times)*9/10], "query50+get_p90_ms")
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap_after_MiB")
	b.ReportMetric((float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), "heap_growth_MiB")
	// Queries that the index does not answer, searched: the unread
	// emails of the mailbox, and the mailbox by subject (for the record;
	// the median of 5).
	inbox := `{"inMailbox":"` + e.id("INBOX") + `"}`
	for _, q := range []struct{ name, filter, sort string }{
		{"unread_query50_ms", `{"operator":"AND","conditions":[` + inbox + `,{"notKeyword":"$seen"}]}`, `[{"property":"receivedAt","isAscending":false}]`},
		{"subject_sort50_ms", inbox, `[{"property":"subject"}]`},
	} {
		body := `{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[` +
			`["Email/query",{"accountId":"` + e.aid + `","filter":` + q.filter + `,"sort":` + q.sort + `,"limit":50,"collapseThreads":true},"q"]]}`
		var ts []float64
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for range 5 {
			t := time.Now()
			postJMAP(b, e, body, 0)
			ts = append(ts, float64(time.Since(t).Microseconds())/1000)
		}
		runtime.ReadMemStats(&m1)
		slices.Sort(ts)
		b.ReportMetric(ts[2], q.name)
		b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/5/(1<<20), strings.TrimSuffix(q.name, "_ms")+"_alloc_MiB")
	}
}

// postJMAP sends a request as alice and checks that the answer holds
// previews previews.
func postJMAP(b *testing.B, e *env, body string, previews int) {
	req, _ := http.NewRequest("POST", e.http.URL+"/jmap/api", strings.NewReader(body))
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || bytes.Count(out, []byte(`"preview"`)) != previews || bytes.Contains(out, []byte(`"error"`)) {
		b.Fatalf("HTTP %d: %.300s", res.StatusCode, out)
	}
}

// fillInbox appends n messages to alice's INBOX in batches, received a
// second apart, threads of three (each third message starts one).
func fillInbox(b testing.TB, e *env, n int) {
	ctx := context.Background()
	inbox := e.mailbox("INBOX")
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 2000
	for i := 0; i < n; i += batch {
		var items []store.AppendItem
		for j := i; j < min(i+batch, n); j++ {
			raw := fmt.Sprintf("Message-ID: <m%d@bench>\r\nDate: Wed, 1 Jan 2020 00:00:00 +0000\r\n"+
				"From: Sender %d <s%d@example.net>\r\nTo: alice@example.org\r\nSubject: message number %d\r\n\r\n"+
				"Hello, this is the text of message %d, long enough to make a preview of a few words.\r\n", j, j%97, j%97, j, j)
			p, err := message.Parse(strings.NewReader(raw), message.DefaultLimits())
			if err != nil {
				b.Fatal(err)
			}
			keys := store.ThreadKeys{MessageID: fmt.Sprintf("m%d@bench", j), BaseSubject: fmt.Sprintf("message number %d", j)}
			if j%3 != 0 {
				keys.Parents, keys.IsReply = []string{fmt.Sprintf("m%d@bench", j-1)}, true
			}
			items = append(items, store.AppendItem{
				Blob: store.NewBlob{Body: store.BytesBody(raw), Meta: store.MessageMeta{Envelope: p.Envelope.Marshal(),
					BodyStructure: p.Body.Marshal(), Preview: p.Preview, SearchText: p.SearchText, Headers: p.Headers, Thread: keys}},
				Target:       store.DeliveryTarget{AccountID: e.acct.ID, Flags: store.Flags(j % 2)},
				InternalDate: t0.Add(time.Duration(j) * time.Second),
			})
		}
		if _, err := e.st.AppendMany(ctx, inbox.ID, items); err != nil {
			b.Fatal(err)
		}
	}
}
