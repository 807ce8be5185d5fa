package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// jmapToken exchanges a password for a bearer token at the token endpoint,
// as the webmail does at login.
func jmapToken(t *testing.T, base, user, password string) string {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/jmap/auth/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d %v %s", resp.StatusCode, err, body)
	}
	return tok.AccessToken
}

// jamResult is what e2e/testdata/jam/scenario.mjs prints.
type jamResult struct {
	Username      string
	AccountID     string
	Capabilities  []string
	InboxTotal    int
	QueryTotal    int
	Subjects      []string
	FirstFrom     string
	FirstBody     string
	Updated       []string
	UploadSize    int
	ImportedID    string
	SubmissionID  string
	DraftID       string
	SentMailboxes []string
	SentKeywords  []string
	SentBoxID     string
}

// TestJMAPJam: jmap-jam, an independent JMAP client in Node, reads, flags,
// moves, imports and sends mail through the binary's JMAP API; IMAP and
// POP3 then see every change.
func TestJMAPJam(t *testing.T) {
	t.Parallel()
	httpAddr := env.freeAddr(t)
	s := mailServer(t, map[string]any{"listen.http": httpAddr})
	base := "http://" + httpAddr
	older, newer := uniq(), uniq()
	mustSend(t, s.Addr["smtp"], "sender@example.net", []string{alice}, testMessage("sender@example.net", alice, older, "the older one"))
	time.Sleep(10 * time.Millisecond) // distinct received times
	mustSend(t, s.Addr["smtp"], "sender@example.net", []string{alice}, testMessage("sender@example.net", alice, newer, "the newer one"))

	token := jmapToken(t, base, alice, pass)
	s.AddSecret(token)
	cmd := exec.Command("node", "testdata/jam/scenario.mjs")
	cmd.Env = append(cmd.Environ(), "SESSION_URL="+base+"/.well-known/jmap", "TOKEN="+token, "RCPT="+bob)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("jmap-jam scenario: %v\n%s\n%s", err, stderr.String(), stdout.String())
	}
	var got jamResult
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("scenario output: %v\n%s", err, stdout.String())
	}
	for _, c := range []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission"} {
		if !slices.Contains(got.Capabilities, c) {
			t.Errorf("session lacks %s: %v", c, got.Capabilities)
		}
	}
	if got.Username != alice || got.InboxTotal != 2 || got.QueryTotal != 2 {
		t.Errorf("session/inbox: %+v", got)
	}
	if len(got.Subjects) != 2 || got.Subjects[0] != "test "+newer || got.Subjects[1] != "test "+older {
		t.Errorf("Email/query receivedAt descending: %q", got.Subjects)
	}
	if got.FirstFrom != "sender@example.net" || !strings.Contains(got.FirstBody, "the newer one") {
		t.Errorf("Email/get of the newest: from %q body %q", got.FirstFrom, got.FirstBody)
	}
	if len(got.Updated) != 1 || got.ImportedID == "" || got.UploadSize == 0 || got.SubmissionID == "" {
		t.Errorf("set/import/submission: %+v", got)
	}
	if !slices.Equal(got.SentMailboxes, []string{got.SentBoxID}) || !slices.Equal(got.SentKeywords, []string{"$seen"}) {
		t.Errorf("after EmailSubmission: mailboxes %v (want [%s]) keywords %v", got.SentMailboxes, got.SentBoxID, got.SentKeywords)
	}

	// IMAP sees the move, the flags and the import.
	c := dialIMAP(t, s)
	if _, err := c.Select("Jam", nil).Wait(); err != nil {
		t.Fatalf("SELECT Jam: %v", err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH Jam: %v, %d messages", err, len(msgs))
	}
	bySubject := map[string][]imap.Flag{}
	for _, m := range msgs {
		bySubject[m.Envelope.Subject] = m.Flags
	}
	if f := bySubject["test "+newer]; !slices.Contains(f, imap.FlagSeen) || !slices.Contains(f, imap.FlagFlagged) {
		t.Errorf("moved message flags over IMAP: %v (%v)", f, bySubject)
	}
	if f, ok := bySubject["Imported by jam"]; !ok || !slices.Contains(f, imap.FlagSeen) {
		t.Errorf("imported message over IMAP: %v", bySubject)
	}
	if st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil || *st.NumMessages != 1 {
		t.Errorf("INBOX after the move: %+v %v", st, err)
	}

	// The submission reached bob, from alice, with the body written.
	var found bool
	for _, m := range fetchAll(t, s, bob, pass) {
		msg := parseMsg(t, m.Text)
		if msg.Header.Get("Subject") == "Sent by jam" {
			found = true
			body, _ := io.ReadAll(msg.Body)
			if !strings.Contains(msg.Header.Get("From"), alice) || !strings.Contains(string(body), "Hello from jmap-jam") {
				t.Errorf("bob's copy: From %q body %q", msg.Header.Get("From"), body)
			}
			if rp := msg.Header.Get("Return-Path"); !strings.Contains(rp, alice) {
				t.Errorf("bob's copy: Return-Path %q", rp)
			}
		}
	}
	if !found {
		t.Error("the message sent through EmailSubmission is not in bob's mailbox")
	}
}
