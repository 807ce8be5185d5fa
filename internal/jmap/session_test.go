package jmap

import (
	"context"
	"encoding/json"
	"testing"
)

func TestSession(t *testing.T) {
	e := newEnv(t, Limits{MaxCallsInRequest: 7}, func(s *Server) {
		s.AddCapability(Capability{
			URI:     "urn:ietf:params:jmap:mail",
			Session: map[string]any{},
			Account: func(ctx context.Context, p Principal) any {
				return map[string]any{"maxMailboxDepth": 10}
			},
		})
		s.AddCapability(Capability{
			URI:     "urn:example:notForAlice",
			Account: func(ctx context.Context, p Principal) any { return nil },
		})
		register(s)
	})
	resp, b := e.do("GET", "/.well-known/jmap", alice, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		t.Fatal(err)
	}
	base := e.http.URL
	if sess.Username != alice || sess.APIURL != base+"/jmap/api" ||
		sess.DownloadURL != base+"/jmap/download/{accountId}/{blobId}/{name}?accept={type}" ||
		sess.UploadURL != base+"/jmap/upload/{accountId}/" ||
		sess.EventSourceURL != base+"/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}" ||
		sess.State == "" {
		t.Errorf("session %s", b)
	}
	var raw map[string]map[string]any
	json.Unmarshal(b, &raw)
	core := raw["capabilities"][CapabilityCore].(map[string]any)
	for k, want := range map[string]float64{"maxSizeUpload": 50 << 20, "maxConcurrentUpload": 4, "maxSizeRequest": 10_000_000,
		"maxConcurrentRequests": 4, "maxCallsInRequest": 7, "maxObjectsInGet": 500, "maxObjectsInSet": 500} {
		if core[k] != want {
			t.Errorf("core %s = %v, want %v", k, core[k], want)
		}
	}
	if algs, _ := core["collationAlgorithms"].([]any); len(algs) == 0 {
		t.Errorf("collationAlgorithms %v", core["collationAlgorithms"])
	}
	for _, c := range []string{"urn:ietf:params:jmap:mail", testCap, "urn:example:notForAlice"} {
		if _, ok := raw["capabilities"][c]; !ok {
			t.Errorf("capability %s missing", c)
		}
	}
	acct, ok := sess.Accounts["a1"]
	if !ok || len(sess.Accounts) != 1 || acct.Name != alice || !acct.IsPersonal || acct.IsReadOnly {
		t.Fatalf("accounts %+v", sess.Accounts)
	}
	if _, ok := acct.AccountCapabilities["urn:example:notForAlice"]; ok {
		t.Errorf("capability the account lacks is listed")
	}
	if m, _ := acct.AccountCapabilities["urn:ietf:params:jmap:mail"].(map[string]any); m["maxMailboxDepth"] != float64(10) {
		t.Errorf("accountCapabilities %v", acct.AccountCapabilities)
	}
	if sess.PrimaryAccounts["urn:ietf:params:jmap:mail"] != "a1" || sess.PrimaryAccounts[testCap] != "a1" {
		t.Errorf("primaryAccounts %v", sess.PrimaryAccounts)
	}
	if _, ok := sess.PrimaryAccounts["urn:example:notForAlice"]; ok {
		t.Errorf("primaryAccounts %v", sess.PrimaryAccounts)
	}

	// /jmap/session is the same resource, and the API's sessionState is
	// its state.
	_, b2 := e.do("GET", "/jmap/session", alice, nil)
	if string(b2) != string(b) {
		t.Errorf("/jmap/session differs:\n%s\n%s", b2, b)
	}
	_, m := e.api(`{"using":[],"methodCalls":[]}`)
	if m["sessionState"] != sess.State {
		t.Errorf("sessionState %v, session state %s", m["sessionState"], sess.State)
	}
	// Another user's session has another state.
	_, b3 := e.do("GET", "/jmap/session", "bob@example.org", nil)
	var sess3 Session
	json.Unmarshal(b3, &sess3)
	if sess3.State == sess.State || sess3.Username != "bob@example.org" {
		t.Errorf("bob's session %s", b3)
	}
	resp, _ = e.do("POST", "/jmap/session", alice, nil)
	if resp.StatusCode != 405 {
		t.Errorf("POST session: %d", resp.StatusCode)
	}
}

func TestSessionBaseURL(t *testing.T) {
	s := New(Options{Auth: fakeAuth{}, BaseURL: "https://mail.example.org"})
	sess, err := s.Session(context.Background(), nil, Principal{AccountID: "a1", Username: alice})
	if err != nil || sess.APIURL != "https://mail.example.org/jmap/api" {
		t.Fatalf("%v %v", sess.APIURL, err)
	}
}
