package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// webmail is a running server with the http listener on, which serves the
// webmail at base.
type webmail struct {
	*Server
	base string // http://127.0.0.1:port
}

// startWebmail starts a server with alice, bob and carol and the http
// listener on a fresh loopback port.
func startWebmail(t testing.TB, set map[string]any) *webmail {
	t.Helper()
	if set == nil {
		set = map[string]any{}
	}
	httpAddr := env.freeAddr(t)
	set["listen.http"] = httpAddr
	return &webmail{Server: mailServer(t, set), base: "http://" + httpAddr}
}

// wmSession is a logged-in webmail session as the SPA holds it: the
// session cookie's value and the CSRF token from the login answer.
type wmSession struct {
	t         testing.TB
	base      string
	cookie    string // the value of postern_session
	csrf      string
	accountID string
	setCookie string // the Set-Cookie header of the login answer, for its attributes
}

const sessionCookie = "postern_session"

// wmRequest sends one request to the webmail's server. Go's cookie jar
// keeps Secure cookies off plain http even on loopback (browsers treat
// 127.0.0.1 as secure), so the cookie is set by hand.
func wmRequest(t testing.TB, method, url, cookie, csrf, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		// The shell routes must answer themselves, not redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

// loginWebmail posts the login form's JSON and returns the session; it
// fails the test unless the server answers 200 with a session cookie.
func (w *webmail) login(t testing.TB, user, password string) *wmSession {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, b := wmRequest(t, "POST", w.base+"/webmail/login", "", "", "application/json", body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /webmail/login as %s: %d %s", user, resp.StatusCode, short(string(b)))
	}
	var ans struct {
		CSRF      string `json:"csrf"`
		Username  string `json:"username"`
		AccountID string `json:"accountId"`
	}
	if err := json.Unmarshal(b, &ans); err != nil || ans.CSRF == "" || ans.AccountID == "" {
		t.Fatalf("POST /webmail/login answer %s: %v", short(string(b)), err)
	}
	s := &wmSession{t: t, base: w.base, csrf: ans.CSRF, accountID: ans.AccountID}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			s.cookie = c.Value
		}
	}
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, sessionCookie+"=") {
			s.setCookie = h
		}
	}
	if s.cookie == "" {
		t.Fatalf("POST /webmail/login sets no %s cookie: %q", sessionCookie, resp.Header.Values("Set-Cookie"))
	}
	w.AddSecret(s.cookie)
	return s
}

// get sends a GET with the session cookie.
func (s *wmSession) get(path string) (*http.Response, []byte) {
	s.t.Helper()
	return wmRequest(s.t, "GET", s.base+path, s.cookie, "", "", nil)
}

// post sends a JSON POST with the cookie and the CSRF header.
func (s *wmSession) post(path string, v any) (*http.Response, []byte) {
	s.t.Helper()
	body, _ := json.Marshal(v)
	return wmRequest(s.t, "POST", s.base+path, s.cookie, s.csrf, "application/json", body)
}

// jmapCall sends one JMAP request as the SPA does (cookie + CSRF) and
// returns the arguments of each method response by name; a method error
// fails the test.
func (s *wmSession) jmapCall(calls ...[]any) map[string]json.RawMessage {
	s.t.Helper()
	req := map[string]any{
		"using":       []string{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail", "urn:ietf:params:jmap:submission"},
		"methodCalls": calls,
	}
	resp, b := s.post("/jmap/api", req)
	if resp.StatusCode != 200 {
		s.t.Fatalf("POST /jmap/api: %d %s", resp.StatusCode, short(string(b)))
	}
	var out struct {
		MethodResponses [][]json.RawMessage `json:"methodResponses"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("JMAP answer %s: %v", short(string(b)), err)
	}
	got := map[string]json.RawMessage{}
	for _, r := range out.MethodResponses {
		var name string
		json.Unmarshal(r[0], &name)
		if name == "error" {
			s.t.Fatalf("JMAP method error: %s", r[1])
		}
		got[name] = r[1]
	}
	return got
}

// mailboxIDs maps role (or name, when it has no role) to mailbox id.
func (s *wmSession) mailboxIDs() map[string]string {
	s.t.Helper()
	r := s.jmapCall([]any{"Mailbox/get", map[string]any{"accountId": s.accountID, "properties": []string{"name", "role"}}, "0"})
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

// emailIDsBySubject returns subject → email id of up to limit messages of
// the mailbox (newest first).
func (s *wmSession) emailIDsBySubject(mailboxID string, limit int) map[string]string {
	s.t.Helper()
	r := s.jmapCall(
		[]any{"Email/query", map[string]any{"accountId": s.accountID, "filter": map[string]any{"inMailbox": mailboxID}, "sort": []any{map[string]any{"property": "receivedAt", "isAscending": false}}, "limit": limit}, "q"},
		[]any{"Email/get", map[string]any{"accountId": s.accountID, "#ids": map[string]any{"resultOf": "q", "name": "Email/query", "path": "/ids"}, "properties": []string{"subject"}}, "g"},
	)
	var got struct {
		List []struct{ ID, Subject string }
	}
	json.Unmarshal(r["Email/get"], &got)
	ids := map[string]string{}
	for _, e := range got.List {
		ids[e.Subject] = e.ID
	}
	return ids
}

// waitEmails waits up to d until the mailbox holds every subject and
// returns their ids; deliveries are asynchronous.
func (s *wmSession) waitEmails(mailboxID string, subjects []string, d time.Duration) map[string]string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ids := s.emailIDsBySubject(mailboxID, 500)
		missing := 0
		for _, sub := range subjects {
			if ids[sub] == "" {
				missing++
			}
		}
		if missing == 0 {
			return ids
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d of %d messages not in mailbox %s after %v", missing, len(subjects), mailboxID, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// htmlMessage builds a message with one text/html body (or, with a plain
// alternative, multipart/alternative).
func htmlMessage(from, to, subject, html string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@e2e.test>\r\nDate: %s\r\n", from, to, subject, uniq(), time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(html, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.String()
}

// plainMessage builds a text/plain message with the given subject.
func plainMessage(from, to, subject, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@e2e.test>\r\nDate: %s\r\n", from, to, subject, uniq(), time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.String()
}
