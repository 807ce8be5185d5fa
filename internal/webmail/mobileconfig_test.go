package webmail

import (
	"encoding/xml"
	"mime"
	"strings"
	"testing"
)

// plistDict reads the flat key/value pairs of every <dict> of a property
// list (strings, integers and booleans as text), the outer ones last.
func plistDict(t *testing.T, body []byte) map[string]string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	out := map[string]string{}
	var key, text string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			text = ""
			if v.Name.Local == "true" || v.Name.Local == "false" {
				out[key] = v.Name.Local
			}
		case xml.CharData:
			text += string(v)
		case xml.EndElement:
			switch v.Name.Local {
			case "key":
				key = text
			case "string", "integer":
				if _, seen := out[key]; !seen {
					out[key] = text
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("not a property list: %s", body)
	}
	return out
}

func TestMobileConfigDownload(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	resp, body := b.do("GET", "/webmail/mobileconfig", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("without a session: %d %s", resp.StatusCode, body)
	}
	b.mustLogin()
	resp, body = b.do("GET", "/webmail/mobileconfig", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Fatalf("with a session: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || !strings.HasSuffix(params["filename"], ".mobileconfig") {
		t.Errorf("Content-Disposition %q: %v", resp.Header.Get("Content-Disposition"), err)
	}
	p := plistDict(t, body)
	for k, want := range map[string]string{
		"EmailAddress":                 alice,
		"IncomingMailServerUsername":   alice,
		"IncomingMailServerHostName":   "mail.example.org",
		"IncomingMailServerPortNumber": "993",
		"IncomingMailServerUseSSL":     "true",
		"OutgoingMailServerHostName":   "mail.example.org",
		"OutgoingMailServerPortNumber": "465",
		"OutgoingMailServerUsername":   alice,
		"PayloadType":                  "com.apple.mail.managed",
	} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
	if strings.Contains(string(body), alicePassword) {
		t.Error("the profile holds the password")
	}
	// Another account's session gets its own profile.
	bob := e.browser()
	if status, m := bob.login("bob@example.org", alicePassword); status != 200 {
		t.Fatalf("bob: %d %v", status, m)
	}
	_, body = bob.do("GET", "/webmail/mobileconfig", nil)
	if p := plistDict(t, body); p["EmailAddress"] != "bob@example.org" {
		t.Errorf("bob's profile is for %q", p["EmailAddress"])
	}
}
