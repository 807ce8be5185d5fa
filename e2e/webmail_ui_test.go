package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// screenshotDir is e2e/screenshots (gitignored): the browser tests save
// what a person should look at there.
func screenshotDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("screenshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// flowsResult is what flows.mjs and screens.mjs print.
type flowsResult struct {
	Steps         []browserStep                       `json:"steps"`
	Shots         []string                            `json:"shots"`
	Foreign       []struct{ URL, Type, Frame string } `json:"foreign"`
	PageErrors    []string                            `json:"pageErrors"`
	ConsoleErrors []string                            `json:"consoleErrors"`
	Assets        []struct {
		URL, Type   string
		Bytes, Gzip int
	} `json:"assets"`
}

// TestWebmailUI: two users in two browser sessions go through the
// webmail's main flows in Chromium (flows.mjs), then the main screens are
// photographed in both languages at phone and desktop widths
// (screens.mjs). Afterwards the server's state must show what the UI did.
func TestWebmailUI(t *testing.T) {
	t.Parallel()
	w := startWebmail(t, map[string]any{"log.level": "warn"})
	smtp := w.Addr["smtp"]
	tag := uniq()[:6]
	plainSubject := "Plain note " + tag
	plainText := "Lunch at noon? The menu is at the link below."
	link := "https://menu.example.org/today"
	mustSend(t, smtp, "friend@example.net", []string{alice}, plainMessage("friend@example.net", alice, plainSubject, plainText+"\n"+link+"\n"))
	htmlSubject := "Newsletter " + tag
	htmlText := "Spring issue: the garden is in bloom"
	mustSend(t, smtp, "news@example.net", []string{alice}, htmlMessage("news@example.net", alice, htmlSubject, "<html><body><h1>News</h1><p><b>"+htmlText+"</b></p><p>Say hello.</p></body></html>"))
	moveSubject := "Quarterly plan " + tag
	delSubject := "Old coupon " + tag
	searchWord := "zanzibar" + tag
	searchSubject := "Trip to " + searchWord
	for _, sub := range []string{moveSubject, delSubject, searchSubject, "Meeting notes " + tag, "Invoice 42 " + tag} {
		mustSend(t, smtp, "colleague@example.net", []string{alice}, plainMessage("colleague@example.net", alice, sub, "Some text about "+sub+"."))
	}
	s := w.login(t, alice, pass)
	boxes := s.mailboxIDs()
	inbox := boxes["inbox"]
	// a folder to move to and to file into
	r := s.jmapCall([]any{"Mailbox/set", map[string]any{"accountId": s.accountID, "create": map[string]any{"p": map[string]any{"name": "Projects"}}}, "0"})
	var created struct {
		Created map[string]struct{ ID string } `json:"created"`
	}
	json.Unmarshal(r["Mailbox/set"], &created)
	projects := created.Created["p"].ID
	if projects == "" {
		t.Fatalf("Mailbox/set create Projects: %s", r["Mailbox/set"])
	}
	ids := s.waitEmails(inbox, []string{plainSubject, htmlSubject, moveSubject, delSubject, searchSubject}, 20*time.Second)
	searchID := ids[searchSubject]
	bs := w.login(t, bob, pass)
	bobInbox := bs.mailboxIDs()["inbox"]

	attach := filepath.Join(t.TempDir(), "report-"+tag+".pdf")
	if err := os.WriteFile(attach, []byte("%PDF-1.4\n% a small file standing in for a report "+tag+"\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sendSubject := "Report attached " + tag
	filterWord := "FILTERME" + tag
	var got flowsResult
	runBrowser(t, "flows.mjs", map[string]any{
		"base": w.base, "alice": alice, "bob": bob, "carol": carol, "pass": pass,
		"inboxID": inbox, "bobInboxID": bobInbox, "projectsID": projects, "trashID": boxes["trash"],
		"inboxCount":  7,
		"plain":       map[string]string{"id": ids[plainSubject], "subject": plainSubject, "text": "Lunch at noon?", "link": link},
		"html":        map[string]string{"id": ids[htmlSubject], "subject": htmlSubject, "text": htmlText},
		"move":        map[string]string{"id": ids[moveSubject]},
		"del":         map[string]string{"id": ids[delSubject]},
		"search":      map[string]string{"id": searchID, "query": searchWord},
		"filter":      map[string]string{"word": filterWord},
		"sendSubject": sendSubject, "sendBody": "Here is the report, see the attachment.",
		"replyBody":  "Thanks, got it " + tag,
		"attachPath": attach, "attachName": filepath.Base(attach),
	}, 120*time.Second, &got)
	checkSteps(t, got.Steps)
	checkForeign(t, got)
	for _, e := range got.ConsoleErrors {
		t.Logf("console error (not failing): %s", short(e))
	}

	// What the UI did is on the server.
	s = w.login(t, alice, pass)
	sent := s.emailIDsBySubject(boxes["sent"], 50)
	if sent[sendSubject] == "" {
		t.Errorf("the message sent from the compose form is not in alice's Sent: %v", keys(sent))
	}
	bs = w.login(t, bob, pass)
	if bs.emailIDsBySubject(bobInbox, 50)[sendSubject] == "" {
		t.Errorf("the message alice sent is not in bob's inbox")
	}
	// The filter changed in the browser files new mail into Projects.
	filtered := "Digest " + filterWord
	mustSend(t, smtp, "list@example.net", []string{alice}, plainMessage("list@example.net", alice, filtered, "filtered"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s.emailIDsBySubject(projects, 50)[filtered] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a message with %q in its subject was not filed into Projects by the filter set in the browser", filterWord)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The main screens, both languages, phone and desktop.
	var shots flowsResult
	runBrowser(t, "screens.mjs", map[string]any{
		"base": w.base, "user": alice, "pass": pass, "shotDir": screenshotDir(t),
		"inboxID": inbox, "messageID": ids[htmlSubject],
	}, 90*time.Second, &shots)
	checkSteps(t, shots.Steps)
	checkForeign(t, shots)
	t.Logf("screenshots: %d files in %s", len(shots.Shots), screenshotDir(t))

	// The budget: at most 200 KiB of JS+CSS (gzip) on first load.
	var gz, raw int
	for _, a := range shots.Assets {
		gz += a.Gzip
		raw += a.Bytes
	}
	if len(shots.Assets) == 0 {
		t.Errorf("no JS or CSS seen on the first load")
	}
	if gz > 200<<10 {
		t.Errorf("first load: %d files, %d bytes of JS+CSS, %d gzip, over the 200 KiB budget", len(shots.Assets), raw, gz)
	}
	t.Logf("first load: %d JS+CSS files, %d bytes, %d gzip", len(shots.Assets), raw, gz)
}

// checkForeign: the webmail loads nothing from another origin (fonts,
// CDNs, analytics), and no page threw an uncaught exception.
func checkForeign(t *testing.T, got flowsResult) {
	t.Helper()
	for _, f := range got.Foreign {
		t.Errorf("the webmail requested %s (%s) from another origin", short(f.URL), f.Type)
	}
	for _, e := range got.PageErrors {
		t.Errorf("uncaught exception in the webmail: %s", short(e))
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
