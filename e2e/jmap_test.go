package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestJMAPCore: the binary serves the JMAP session resource and API on the
// http listener, behind the same password check as the other protocols.
func TestJMAPCore(t *testing.T) {
	t.Parallel()
	httpAddr := env.freeAddr(t)
	s := mailServer(t, map[string]any{"listen.http": httpAddr})
	base := "http://" + httpAddr
	do := func(method, path, user, password, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", method, path, cc)
		}
		return resp, b
	}
	if resp, _ := do("GET", "/.well-known/jmap", "", "", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := do("GET", "/.well-known/jmap", alice, "wrong password", ""); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	resp, body := do("GET", "/.well-known/jmap", alice, pass, "")
	var session struct {
		Username     string
		APIURL       string `json:"apiUrl"`
		Accounts     map[string]struct{ Name string }
		Capabilities map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &session); err != nil || resp.StatusCode != 200 {
		t.Fatalf("session: %d %v\n%s", resp.StatusCode, err, body)
	}
	if session.Username != alice || !strings.HasSuffix(session.APIURL, "/jmap/api") ||
		len(session.Accounts) != 1 ||
		session.Capabilities["urn:ietf:params:jmap:core"] == nil {
		t.Errorf("session resource: %s", body)
	}
	resp, body = do("POST", "/jmap/api", alice, pass,
		`{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":true,"high":5},"b3ff"]]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `["Core/echo",{"hello":true,"high":5},"b3ff"]`) {
		t.Errorf("Core/echo: %d %s", resp.StatusCode, body)
	}
	// Mailbox/get through the real store: the six mailboxes every account
	// starts with, with their roles.
	var acctID string
	for id := range session.Accounts {
		acctID = id
	}
	resp, body = do("POST", "/jmap/api", alice, pass, `{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],
		"methodCalls":[["Mailbox/get",{"accountId":"`+acctID+`","ids":null,"properties":["name","role","totalEmails"]},"0"]]}`)
	var got struct {
		MethodResponses [][]json.RawMessage
	}
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || len(got.MethodResponses) != 1 {
		t.Fatalf("Mailbox/get: %d %v %s", resp.StatusCode, err, body)
	}
	var mboxes struct {
		List []struct{ Name, Role string }
	}
	json.Unmarshal(got.MethodResponses[0][1], &mboxes)
	roles := map[string]string{}
	for _, m := range mboxes.List {
		roles[m.Role] = m.Name
	}
	if roles["inbox"] != "INBOX" || roles["sent"] == "" || roles["trash"] == "" || len(mboxes.List) != 6 {
		t.Errorf("Mailbox/get: %s", body)
	}
	resp, body = do("POST", "/jmap/api", alice, pass, `{"using":["urn:x:unknown"],"methodCalls":[]}`)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "unknownCapability") {
		t.Errorf("unknown capability: %d %s", resp.StatusCode, body)
	}
	for id, a := range session.Accounts {
		if a.Name != alice || !strings.HasPrefix(id, "a") {
			t.Errorf("account %s: %+v", id, a)
		}
	}
	if _, ok := s.WaitLog(0, "auth failed", "protocol=jmap", alice); !ok {
		t.Error("no auth failure line logged for the wrong password")
	}
}
