package webmail

import (
	"net/http"
	"strings"
	"testing"
)

func TestPrefs(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if resp, _ := b.do("GET", "/webmail/prefs", nil); resp.StatusCode != 401 {
		t.Fatalf("prefs without a session: %d", resp.StatusCode)
	}
	b.mustLogin()
	_, body := b.do("GET", "/webmail/prefs", nil)
	if string(body) != `{"trustedSenders":[],"lang":""}` {
		t.Errorf("fresh prefs %s", body)
	}
	steps := []struct {
		body   map[string]string
		status int
		want   string
	}{
		{map[string]string{"lang": "zh-CN"}, 200, `{"trustedSenders":[],"lang":"zh-CN"}`},
		{map[string]string{"lang": "fr"}, 400, ""},
		{map[string]string{"trustSender": "B@Example.net"}, 200, `{"trustedSenders":["b@example.net"],"lang":"zh-CN"}`},
		{map[string]string{"trustSender": "a@example.net"}, 200, `{"trustedSenders":["a@example.net","b@example.net"],"lang":"zh-CN"}`},
		{map[string]string{"trustSender": "Someone <a@example.net>"}, 400, ""},
		{map[string]string{"trustSender": "not an address"}, 400, ""},
		{map[string]string{"untrustSender": "b@example.net"}, 200, `{"trustedSenders":["a@example.net"],"lang":"zh-CN"}`},
		{map[string]string{"lang": ""}, 200, `{"trustedSenders":["a@example.net"],"lang":""}`},
		{map[string]string{}, 400, ""},
	}
	for _, s := range steps {
		resp, body := b.do("POST", "/webmail/prefs", s.body)
		if resp.StatusCode != s.status || (s.want != "" && string(body) != s.want) {
			t.Errorf("%v: %d %s, want %d %s", s.body, resp.StatusCode, body, s.status, s.want)
		}
		if resp.StatusCode >= 400 && !strings.Contains(string(body), `"error"`) {
			t.Errorf("%v: error without a message: %s", s.body, body)
		}
	}
	// Stored, not kept in the session.
	p, err := e.st.WebmailPrefs(e.ctx, e.acct.ID)
	if err != nil || len(p.TrustedSenders) != 1 || p.TrustedSenders[0] != "a@example.net" {
		t.Errorf("stored %+v %v", p, err)
	}
}

func TestPasswordChange(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin()
	second := e.browser()
	second.mustLogin()

	resp, body := b.do("POST", "/webmail/password", map[string]string{"current": "wrong password", "new": "a brand new password"})
	if resp.StatusCode != 403 || !strings.Contains(string(body), "error") {
		t.Errorf("wrong current password: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("POST", "/webmail/password", map[string]string{"current": alicePassword, "new": "short"})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "error") {
		t.Errorf("too short a password (admin's rule): %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("POST", "/webmail/password", map[string]string{"current": alicePassword, "new": "a brand new password"})
	var in sessionInfo
	jsonOf(t, body, &in)
	if resp.StatusCode != 200 || in.CSRF == "" || in.Username != alice || b.cookie == nil {
		t.Fatalf("change: %d %s", resp.StatusCode, body)
	}
	b.csrf = in.CSRF
	// This browser goes on with its new session; the other sessions end.
	if resp, _ := b.do("GET", "/webmail/session", nil); resp.StatusCode != 200 {
		t.Errorf("session after the change: %d", resp.StatusCode)
	}
	if resp, _ := second.do("GET", "/webmail/session", nil); resp.StatusCode != 401 {
		t.Errorf("other session after the change: %d", resp.StatusCode)
	}
	if status, _ := e.browser().login(alice, alicePassword); status != 401 {
		t.Errorf("old password still logs in: %d", status)
	}
	if status, _ := e.browser().login(alice, "a brand new password"); status != 200 {
		t.Errorf("new password refused: %d", status)
	}
}

func TestAppPasswords(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin()
	_, body := b.do("GET", "/webmail/app-passwords", nil)
	if string(body) != "[]" {
		t.Errorf("none yet: %s", body)
	}
	resp, body := b.do("POST", "/webmail/app-passwords", map[string]string{"name": "Phone mail"})
	var made appPasswordView
	jsonOf(t, body, &made)
	if resp.StatusCode != 200 || made.ID != "Phone mail" || made.Name != "Phone mail" || len(made.Password) < 16 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if resp, body := b.do("POST", "/webmail/app-passwords", map[string]string{"name": "Phone mail"}); resp.StatusCode != 409 {
		t.Errorf("same name twice: %d %s", resp.StatusCode, body)
	}
	if resp, body := b.do("POST", "/webmail/app-passwords", map[string]string{"name": ""}); resp.StatusCode != 400 {
		t.Errorf("empty name: %d %s", resp.StatusCode, body)
	}
	// The app password logs in, as on every protocol.
	if status, _ := e.browser().login(alice, made.Password); status != 200 {
		t.Errorf("app password does not log in: %d", status)
	}
	_, body = b.do("GET", "/webmail/app-passwords", nil)
	var list []map[string]any
	jsonOf(t, body, &list)
	if len(list) != 1 || list[0]["id"] != "Phone mail" || list[0]["created"] == "" || list[0]["lastUsed"] == nil {
		t.Errorf("list: %s", body)
	}
	if strings.Contains(string(body), made.Password) || strings.Contains(string(body), `"password"`) {
		t.Errorf("list shows the secret: %s", body)
	}
	// Bob sees none of alice's, and cannot delete them.
	bob := e.browser()
	bob.login("bob@example.org", alicePassword)
	if _, body := bob.do("GET", "/webmail/app-passwords", nil); string(body) != "[]" {
		t.Errorf("bob's list: %s", body)
	}
	if resp, _ := bob.do("DELETE", "/webmail/app-passwords/Phone%20mail", nil); resp.StatusCode != 404 {
		t.Errorf("bob deletes alice's: %d", resp.StatusCode)
	}
	if resp, _ := b.do("DELETE", "/webmail/app-passwords/Phone%20mail", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if resp, _ := b.do("DELETE", "/webmail/app-passwords/Phone%20mail", nil); resp.StatusCode != 404 {
		t.Errorf("delete twice: %d", resp.StatusCode)
	}
	if status, _ := e.browser().login(alice, made.Password); status != 401 {
		t.Errorf("revoked app password logs in: %d", status)
	}
}
