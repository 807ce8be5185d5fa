package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// jmapClient calls the binary's JMAP API with HTTP Basic over loopback.
type jmapClient struct {
	t       *testing.T
	base    string
	user    string
	account string
}

func newJMAPClient(t *testing.T, base, user string) *jmapClient {
	t.Helper()
	c := &jmapClient{t: t, base: base, user: user}
	var session struct {
		PrimaryAccounts map[string]string
	}
	c.getJSON("/.well-known/jmap", &session)
	c.account = session.PrimaryAccounts["urn:ietf:params:jmap:mail"]
	if c.account == "" {
		t.Fatalf("no mail account in the session")
	}
	return c
}

func (c *jmapClient) getJSON(path string, out any) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.SetBasicAuth(c.user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(body, out) != nil {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
}

// call runs one method and decodes its arguments into out; an error
// response fails the test.
func (c *jmapClient) call(method string, args map[string]any, out any) {
	c.t.Helper()
	args["accountId"] = c.account
	req := map[string]any{
		"using":       []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"},
		"methodCalls": []any{[]any{method, args, "0"}},
	}
	b, _ := json.Marshal(req)
	hr, _ := http.NewRequest("POST", c.base+"/jmap/api", strings.NewReader(string(b)))
	hr.SetBasicAuth(c.user, pass)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got struct {
		MethodResponses [][]json.RawMessage
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.MethodResponses) != 1 {
		c.t.Fatalf("%s: %d %s", method, resp.StatusCode, body)
	}
	var name string
	json.Unmarshal(got.MethodResponses[0][0], &name)
	if name != method {
		c.t.Fatalf("%s answered %s: %s", method, name, got.MethodResponses[0][1])
	}
	if err := json.Unmarshal(got.MethodResponses[0][1], out); err != nil {
		c.t.Fatal(err)
	}
}

// TestJMAPAndIMAPSeeEachOther: a flag set over IMAP shows in
// Email/changes; a change over JMAP shows in IMAP CONDSTORE FETCH
// CHANGEDSINCE; one delivery reaches an EventSource client and an IMAP
// IDLE client.
func TestJMAPAndIMAPSeeEachOther(t *testing.T) {
	t.Parallel()
	httpAddr := env.freeAddr(t)
	s := mailServer(t, map[string]any{"listen.http": httpAddr})
	base := "http://" + httpAddr
	mustSend(t, s.Addr["smtp"], "sender@example.net", []string{alice}, testMessage("sender@example.net", alice, uniq(), "first"))
	j := newJMAPClient(t, base, alice)

	var q struct {
		IDs        []string
		QueryState string
	}
	var inbox struct {
		List []struct{ ID, Role string }
	}
	j.call("Mailbox/get", map[string]any{"ids": nil, "properties": []string{"role"}}, &inbox)
	var inboxID string
	for _, m := range inbox.List {
		if m.Role == "inbox" {
			inboxID = m.ID
		}
	}
	j.call("Email/query", map[string]any{"filter": map[string]any{"inMailbox": inboxID}}, &q)
	if len(q.IDs) != 1 {
		t.Fatalf("Email/query: %+v", q)
	}
	var got struct {
		State string
		List  []struct {
			ID       string
			Keywords map[string]bool
		}
	}
	j.call("Email/get", map[string]any{"ids": q.IDs, "properties": []string{"keywords"}}, &got)
	state := got.State

	// IMAP → JMAP.
	c := dialRaw(t, s.Addr["imap"])
	c.line()
	c.imapLines("a", "LOGIN "+alice+` "`+pass+`"`, "OK")
	untagged, _ := c.imapLines("b", "SELECT INBOX (CONDSTORE)", "OK")
	highest := regexp.MustCompile(`HIGHESTMODSEQ (\d+)`).FindStringSubmatch(strings.Join(untagged, "\n"))
	if highest == nil {
		t.Fatalf("SELECT CONDSTORE: %q", untagged)
	}
	c.imapLines("c", `STORE 1 +FLAGS (\Flagged)`, "OK")
	var changes struct {
		OldState, NewState string
		Updated, Created   []string
	}
	j.call("Email/changes", map[string]any{"sinceState": state}, &changes)
	if len(changes.Updated) != 1 || changes.Updated[0] != q.IDs[0] || changes.NewState == state {
		t.Errorf("Email/changes after an IMAP STORE: %+v", changes)
	}
	j.call("Email/get", map[string]any{"ids": q.IDs, "properties": []string{"keywords"}}, &got)
	if !got.List[0].Keywords["$flagged"] {
		t.Errorf("keywords after IMAP \\Flagged: %v", got.List[0].Keywords)
	}

	// JMAP → IMAP.
	var set struct {
		Updated map[string]any
	}
	j.call("Email/set", map[string]any{"update": map[string]any{q.IDs[0]: map[string]any{"keywords/$seen": true}}}, &set)
	if _, ok := set.Updated[q.IDs[0]]; !ok {
		t.Fatalf("Email/set: %+v", set)
	}
	untagged, _ = c.imapLines("d", "FETCH 1:* (FLAGS) (CHANGEDSINCE "+highest[1]+")", "OK")
	// The change may also come as an unsolicited FETCH first; the answer
	// to this FETCH is the last line.
	if last := untagged[len(untagged)-1]; !strings.Contains(last, "UID 1 ") || !strings.Contains(last, `\Seen`) || !strings.Contains(last, `\Flagged`) {
		t.Errorf("CONDSTORE after Email/set: %q", untagged)
	}

	// One delivery, two push clients.
	req, _ := http.NewRequest("GET", base+"/jmap/eventsource?types=*&closeafter=no&ping=0", nil)
	req.SetBasicAuth(alice, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("eventsource: %v %v", resp, err)
	}
	defer resp.Body.Close()
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "data:") {
				events <- l
			}
		}
		close(events)
	}()
	c.write("i IDLE\r\n")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	// Anything the stream sent on opening is not about the delivery.
	drain := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-events:
		case <-drain:
			done = true
		}
	}
	mustSend(t, s.Addr["smtp"], "sender@example.net", []string{alice}, testMessage("sender@example.net", alice, uniq(), "second"))
	select {
	case e := <-events:
		if !strings.Contains(e, `"Email"`) || !strings.Contains(e, j.account) {
			t.Errorf("EventSource StateChange: %s", e)
		}
	case <-time.After(10 * time.Second):
		t.Error("no EventSource event for the delivery")
	}
	if l := c.line(); l != "* 2 EXISTS" {
		t.Errorf("IDLE after the delivery: %q", l)
	}
	c.write("DONE\r\n")
}
