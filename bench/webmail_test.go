package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWebmail fills INBOX with 10,000 and then 100,000 messages
// (WEBMAIL_BENCH_N=10000 for one size only) and measures the webmail in
// Chromium (e2e/testdata/browser/figures.mjs, needs scripts/deps.sh):
// navigation to the inbox list painted, opening a message, switching
// folder, each the median of 5 cold loads, and the JS+CSS of the first
// load gzip-compressed. Beside them the server's time for Email/query +
// Email/get of 50 list entries, and IMAP's FETCH of the same 50.
func BenchmarkWebmail(b *testing.B) {
	sizes := []int{10000, 100000}
	if v := os.Getenv("WEBMAIL_BENCH_N"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 100 {
				b.Fatalf("WEBMAIL_BENCH_N=%q: sizes of at least 100, comma-separated", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("inbox=%d", n), func(b *testing.B) { benchWebmail(b, n) })
	}
}

func benchWebmail(b *testing.B, n int) {
	s := startIMAPServer(b)
	waitPort(b, s.http)
	const user = "bench1@bench.test"
	t0 := time.Now()
	fill(b, s.imap, user, "INBOX", n, 4, 2000)
	ic := dialIMAP(b, s.imap, user, "benchpass")
	ic.must("CREATE Other", nil)
	ic.close()
	fill(b, s.imap, user, "Other", 50, 1, 2000)
	b.Logf("filled %d + 50 messages in %v", n, time.Since(t0).Round(time.Second))

	j := &jmapClient{b: b, base: "http://" + s.http, user: user, pass: "benchpass"}
	boxes := j.mailboxes()
	inbox, other := boxes["inbox"], boxes["other"]
	if inbox == "" || other == "" {
		b.Fatalf("mailboxes: %v", boxes)
	}
	otherIDs := j.query(other, 50)
	if len(otherIDs) != 50 {
		b.Fatalf("Email/query Other: %d ids", len(otherIDs))
	}

	b.ResetTimer()
	for range b.N {
		var fig struct {
			ListPaint, OpenMessage, SwitchFolder []float64
			Errors                               []string
			APICalls                             []struct {
				Methods     string
				StartMs, Ms float64
			}
			Assets []struct {
				URL, Type, Encoding string
				Bytes, Gzip         int
			}
		}
		runFigures(b, map[string]any{
			"base": "http://" + s.http, "user": user, "pass": "benchpass",
			"inboxID": inbox, "otherID": other, "otherIDs": otherIDs, "runs": 5,
		}, &fig)
		for _, e := range fig.Errors {
			b.Errorf("figures: %s", e)
		}
		if len(fig.ListPaint) == 0 {
			b.Fatalf("no run of figures.mjs painted the inbox")
		}
		for _, c := range fig.APICalls {
			b.Logf("first run: JMAP %s at %.0f ms took %.0f ms", c.Methods, c.StartMs, c.Ms)
		}
		b.ReportMetric(median(fig.ListPaint), "list_paint_ms")
		b.ReportMetric(median(fig.OpenMessage), "open_message_ms")
		b.ReportMetric(median(fig.SwitchFolder), "switch_folder_ms")
		var raw, gz int
		for _, a := range fig.Assets {
			raw += a.Bytes
			gz += a.Gzip
			b.Logf("first load: %s %s %d bytes, %d gzip", a.Type, a.URL, a.Bytes, a.Gzip)
		}
		b.ReportMetric(float64(raw)/1024, "jscss_KiB")
		b.ReportMetric(float64(gz)/1024, "jscss_gzip_KiB")
		b.ReportMetric(j.listQuery(inbox), "jmap_query_get50_ms")
		b.ReportMetric(imapFetch50(b, s.imap, user, n), "imap_fetch50_ms")
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// runFigures runs figures.mjs (bounded to 10 minutes, Chromium's process
// group killed then) and decodes its output.
func runFigures(b *testing.B, input any, out any) {
	dir := filepath.Join("..", "e2e", "testdata", "browser")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		b.Fatalf("playwright-core is not installed in e2e/testdata/browser: run scripts/deps.sh")
	}
	in, _ := json.Marshal(input)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "figures.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		b.Fatalf("figures.mjs: %v\n%s\n%s", err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		b.Fatalf("figures.mjs output: %v\n%s", err, stdout.String())
	}
}

// jmapClient calls /jmap/api with a bearer token it gets once, as the
// webmail does (Basic authentication would time a password hash with
// every request).
type jmapClient struct {
	b                *testing.B
	base, user, pass string
	token            string
}

// bearer logs in once and returns the token.
func (j *jmapClient) bearer() string {
	if j.token != "" {
		return j.token
	}
	req, err := http.NewRequest("POST", j.base+"/jmap/auth/token", nil)
	if err != nil {
		j.b.Fatal(err)
	}
	req.SetBasicAuth(j.user, j.pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		j.b.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.AccessToken == "" {
		j.b.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	j.token = got.AccessToken
	return j.token
}

func (j *jmapClient) call(calls ...[]any) map[string]json.RawMessage {
	body, _ := json.Marshal(map[string]any{"using": []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"}, "methodCalls": calls})
	req, err := http.NewRequest("POST", j.base+"/jmap/api", bytes.NewReader(body))
	if err != nil {
		j.b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+j.bearer())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		j.b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct{ MethodResponses [][]json.RawMessage }
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		j.b.Fatalf("JMAP: %d %.300s", resp.StatusCode, raw)
	}
	got := map[string]json.RawMessage{}
	for _, r := range out.MethodResponses {
		var name string
		json.Unmarshal(r[0], &name)
		if name == "error" {
			j.b.Fatalf("JMAP error: %s", r[1])
		}
		got[name] = r[1]
	}
	return got
}

func (j *jmapClient) mailboxes() map[string]string {
	r := j.call([]any{"Mailbox/get", map[string]any{"accountId": "a1", "properties": []string{"name", "role"}}, "0"})
	var mb struct {
		List []struct{ ID, Name, Role string }
	}
	json.Unmarshal(r["Mailbox/get"], &mb)
	ids := map[string]string{}
	for _, m := range mb.List {
		ids[strings.ToLower(m.Name)] = m.ID
		if m.Role != "" {
			ids[m.Role] = m.ID
		}
	}
	return ids
}

func (j *jmapClient) query(mailbox string, limit int) []string {
	r := j.call([]any{"Email/query", map[string]any{"accountId": "a1", "filter": map[string]any{"inMailbox": mailbox}, "sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "limit": limit}, "q"})
	var q struct{ IDs []string }
	json.Unmarshal(r["Email/query"], &q)
	return q.IDs
}

// listQuery times what a list view asks: Email/query of the newest 50 and
// Email/get of their list properties, in one request; median of 20, ms.
func (j *jmapClient) listQuery(mailbox string) float64 {
	var times []float64
	for range 20 {
		t := time.Now()
		r := j.call(
			[]any{"Email/query", map[string]any{"accountId": "a1", "filter": map[string]any{"inMailbox": mailbox}, "sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "limit": 50, "calculateTotal": true}, "q"},
			[]any{"Email/get", map[string]any{"accountId": "a1", "#ids": map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"}, "properties": []string{"threadId", "mailboxIds", "keywords", "from", "subject", "receivedAt", "preview", "hasAttachment", "size"}}, "g"},
		)
		times = append(times, float64(time.Since(t).Microseconds())/1000)
		if strings.Count(string(r["Email/get"]), `"threadId"`) != 50 {
			j.b.Fatalf("Email/get of 50: %.300s", r["Email/get"])
		}
	}
	return median(times)
}

// imapFetch50 times the IMAP equivalent on a selected mailbox: FETCH of
// the newest 50 with what a client's list shows; median of 20, ms.
func imapFetch50(b *testing.B, addr, user string, n int) float64 {
	ic := dialIMAP(b, addr, user, "benchpass")
	defer ic.close()
	ic.must("SELECT INBOX", nil)
	var times []float64
	for range 20 {
		got := 0
		t := time.Now()
		ic.must(fmt.Sprintf("FETCH %d:%d (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)])", n-49, n), func(l string) {
			if strings.HasPrefix(l, "* ") && strings.Contains(l, " FETCH ") {
				got++
			}
		})
		times = append(times, float64(time.Since(t).Microseconds())/1000)
		if got != 50 {
			b.Fatalf("FETCH of 50: %d responses", got)
		}
	}
	return median(times)
}
