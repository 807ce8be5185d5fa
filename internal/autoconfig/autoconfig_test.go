package autoconfig

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testSettings = Settings{Hostname: "mail.example.org", IMAPS: 993, IMAP: 143, POP3S: 995, Submissions: 465, Submission: 587,
	MTASTSMode: "enforce", MTASTSMaxAge: 7 * 24 * time.Hour}

func newTestServer() *Server {
	return New(Options{Settings: testSettings, IsLocalDomain: func(_ context.Context, d string) (bool, error) {
		return d == "example.org", nil
	}})
}

func do(t *testing.T, h http.Handler, method, target, host, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if host != "" {
		req.Host = host
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The elements of the published format (config-v1.1): clientConfig
// version 1.1, emailProvider id with domain, displayName,
// displayShortName, then incomingServer / outgoingServer with type,
// hostname, port, socketType (SSL, STARTTLS or plain), authentication and
// username, in this order.
type publishedConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID               string   `xml:"id,attr"`
		Domain           []string `xml:"domain"`
		DisplayName      string   `xml:"displayName"`
		DisplayShortName string   `xml:"displayShortName"`
		Incoming         []struct {
			Type     string `xml:"type,attr"`
			Hostname string `xml:"hostname"`
			Port     int    `xml:"port"`
			Socket   string `xml:"socketType"`
			Auth     string `xml:"authentication"`
			Username string `xml:"username"`
		} `xml:"incomingServer"`
		Outgoing []struct {
			Type     string `xml:"type,attr"`
			Hostname string `xml:"hostname"`
			Port     int    `xml:"port"`
			Socket   string `xml:"socketType"`
			Auth     string `xml:"authentication"`
			Username string `xml:"username"`
		} `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

var socketTypes = map[string]bool{"SSL": true, "STARTTLS": true, "plain": true}

// authMethods are the values the format defines for authentication.
var authMethods = map[string]bool{"password-cleartext": true, "password-encrypted": true, "NTLM": true, "GSSAPI": true,
	"client-IP-address": true, "TLS-client-cert": true, "OAuth2": true, "none": true}

func TestThunderbird(t *testing.T) {
	h := newTestServer().Handler()
	for _, c := range []struct{ target, host string }{
		{"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.org", "mail.example.org"},
		{"/mail/config-v1.1.xml", "autoconfig.example.org"},
		{"/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig.EXAMPLE.org:8080"},
	} {
		rec := do(t, h, "GET", c.target, c.host, "")
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/xml") {
			t.Fatalf("%s on %s: %d %s", c.target, c.host, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`) {
			t.Errorf("no XML declaration: %.60s", body)
		}
		var cfg publishedConfig
		d := xml.NewDecoder(strings.NewReader(body))
		d.Strict = true
		if err := d.Decode(&cfg); err != nil {
			t.Fatal(err)
		}
		p := cfg.Provider
		if cfg.Version != "1.1" || p.ID != "example.org" || len(p.Domain) != 1 || p.Domain[0] != "example.org" ||
			p.DisplayName == "" || p.DisplayShortName == "" {
			t.Errorf("provider %+v", cfg)
		}
		var in, out []string
		for _, s := range p.Incoming {
			if s.Hostname != "mail.example.org" || !socketTypes[s.Socket] || !authMethods[s.Auth] || s.Username != "%EMAILADDRESS%" {
				t.Errorf("incoming %+v", s)
			}
			in = append(in, s.Type+":"+s.Socket+":"+strconv.Itoa(s.Port))
		}
		for _, s := range p.Outgoing {
			if s.Hostname != "mail.example.org" || !socketTypes[s.Socket] || !authMethods[s.Auth] || s.Username != "%EMAILADDRESS%" {
				t.Errorf("outgoing %+v", s)
			}
			out = append(out, s.Type+":"+s.Socket+":"+strconv.Itoa(s.Port))
		}
		if got := strings.Join(in, " "); got != "imap:SSL:993 imap:STARTTLS:143 pop3:SSL:995" {
			t.Errorf("incoming %s", got)
		}
		if got := strings.Join(out, " "); got != "smtp:SSL:465 smtp:STARTTLS:587" {
			t.Errorf("outgoing %s", got)
		}
		// Element order as the format lists it.
		for _, seq := range [][]string{{"<domain>", "<displayName>", "<displayShortName>", "<incomingServer", "<outgoingServer"},
			{"<hostname>", "<port>", "<socketType>", "<authentication>", "<username>"}} {
			last := -1
			for _, e := range seq {
				i := strings.Index(body, e)
				if i < last {
					t.Errorf("%s out of order", e)
				}
				last = i
			}
		}
	}
	for _, c := range []struct {
		target, host string
		code         int
	}{
		{"/mail/config-v1.1.xml?emailaddress=bob%40other.org", "x", 404},
		{"/mail/config-v1.1.xml?emailaddress=nobody", "x", 400},
		{"/mail/config-v1.1.xml?emailaddress=" + strings.Repeat("a", 400) + "%40example.org", "x", 400},
		{"/mail/config-v1.1.xml", "autoconfig.other.org", 404},
		{"/mail/config-v1.1.xml", "bad_host!", 400},
	} {
		if rec := do(t, h, "GET", c.target, c.host, ""); rec.Code != c.code {
			t.Errorf("%s on %s: %d, want %d", c.target, c.host, rec.Code, c.code)
		}
	}
	if rec := do(t, h, "POST", "/mail/config-v1.1.xml", "autoconfig.example.org", "x"); rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
}

// outlookRequest is the body Outlook posts (as captured from Outlook
// 2016/365 for a POP/IMAP account), with its CRLFs.
const outlookRequest = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n" +
	"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\r\n" +
	"  <Request>\r\n" +
	"    <EMailAddress>Alice@Example.org</EMailAddress>\r\n" +
	"    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n" +
	"  </Request>\r\n" +
	"</Autodiscover>\r\n"

func TestAutodiscover(t *testing.T) {
	h := newTestServer().Handler()
	for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"} {
		rec := do(t, h, "POST", path, "autodiscover.example.org", outlookRequest)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		var resp struct {
			XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
			Response struct {
				XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
				Account struct {
					AccountType, Action string
					Protocol            []adProtocol
				}
			}
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%v\n%s", err, rec.Body)
		}
		a := resp.Response.Account
		if a.AccountType != "email" || a.Action != "settings" || len(a.Protocol) != 3 {
			t.Fatalf("account %+v", a)
		}
		want := map[string]adProtocol{
			"IMAP": {Type: "IMAP", Server: "mail.example.org", Port: 993, LoginName: "Alice@Example.org", DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
			"POP3": {Type: "POP3", Server: "mail.example.org", Port: 995, LoginName: "Alice@Example.org", DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
			"SMTP": {Type: "SMTP", Server: "mail.example.org", Port: 465, LoginName: "Alice@Example.org", DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "SSL", AuthRequired: "on"},
		}
		for _, p := range a.Protocol {
			if p != want[p.Type] {
				t.Errorf("%s: %+v", p.Type, p)
			}
		}
	}
	// Without implicit TLS ports, STARTTLS ones (Encryption TLS).
	s := New(Options{Settings: Settings{Hostname: "mx.example.org", IMAP: 143, Submission: 587}})
	body, _ := AutodiscoverResponse(s.settings(), "a@example.org")
	if !strings.Contains(string(body), "<Port>587</Port>") || !strings.Contains(string(body), "<Encryption>TLS</Encryption>") ||
		strings.Contains(string(body), "POP3") {
		t.Errorf("STARTTLS answer:\n%s", body)
	}
	for _, c := range []struct {
		method, body string
		code         int
	}{
		{"GET", "", 405},
		{"POST", strings.Replace(outlookRequest, "Example.org", "other.org", 1), 404},
		{"POST", strings.Replace(outlookRequest, "responseschema/2006a", "mobilesync/responseschema/2006", 1), 400},
		{"POST", "<Autodiscover><Request><EMailAddress>x</EMailAddress></Request></Autodiscover>", 400},
		{"POST", "not xml", 400},
		{"POST", "<Autodiscover>" + strings.Repeat(" ", 20000) + "</Autodiscover>", 400},
	} {
		if rec := do(t, h, c.method, "/autodiscover/autodiscover.xml", "", c.body); rec.Code != c.code {
			t.Errorf("%s %.40q: %d, want %d", c.method, c.body, rec.Code, c.code)
		}
	}
}

func TestParseAutodiscoverLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20)
	for name, body := range map[string]string{
		"deep":      "<Autodiscover>" + deep + "</Autodiscover>",
		"many":      "<Autodiscover>" + strings.Repeat("<a/>", 300) + "</Autodiscover>",
		"dtd":       `<!DOCTYPE x [<!ENTITY e "v">]><Autodiscover><Request><EMailAddress>a@b.c</EMailAddress></Request></Autodiscover>`,
		"wrongroot": "<Other><Request><EMailAddress>a@b.c</EMailAddress></Request></Other>",
		"unclosed":  "<Autodiscover><Request><EMailAddress>a@b.c</EMailAddress>",
	} {
		if _, err := ParseAutodiscover(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	req, err := ParseAutodiscover(strings.NewReader(outlookRequest))
	if err != nil || req.EmailAddress != "Alice@Example.org" || req.ResponseSchema != nsOutlookResponse {
		t.Errorf("%+v %v", req, err)
	}
}

func FuzzParseAutodiscover(f *testing.F) {
	f.Add(outlookRequest)
	f.Add("<Autodiscover><Request><EMailAddress>a@b.c</EMailAddress></Request></Autodiscover>")
	f.Add("<Autodiscover><Request><EMailAddress>a@<!-- -->b.c</EMailAddress></Request></Autodiscover>")
	f.Add("<!DOCTYPE a><Autodiscover/>")
	f.Fuzz(func(t *testing.T, body string) {
		req, err := ParseAutodiscover(strings.NewReader(body))
		if err != nil {
			return
		}
		if domainOf(req.EmailAddress) == "" || len(req.EmailAddress) > maxAddress {
			t.Fatalf("accepted a bad address %q", req.EmailAddress)
		}
		if _, err := AutodiscoverResponse(testSettings, req.EmailAddress); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMTASTS(t *testing.T) {
	h := newTestServer().Handler()
	rec := do(t, h, "GET", "/.well-known/mta-sts.txt", "mta-sts.example.org", "")
	want := "version: STSv1\r\nmode: enforce\r\nmx: mail.example.org\r\nmax_age: 604800\r\n"
	if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("%d %q %q", rec.Code, rec.Body, rec.Header().Get("Content-Type"))
	}
	if rec := do(t, h, "GET", "/.well-known/mta-sts.txt", "mta-sts.other.org", ""); rec.Code != 404 {
		t.Errorf("other domain: %d", rec.Code)
	}
	if p := MTASTSPolicy(Settings{Hostname: "mx.a.org", MTASTSMode: "none", MTASTSMaxAge: time.Hour}); p != "version: STSv1\r\nmode: none\r\nmx: mx.a.org\r\nmax_age: 3600\r\n" {
		t.Errorf("%q", p)
	}
}

func TestMobileConfig(t *testing.T) {
	s := newTestServer()
	h := s.MobileConfigHandler(func(r *http.Request) string { return r.Header.Get("X-Test-User") })
	if rec := do(t, h, "GET", "/webmail/mobileconfig", "", ""); rec.Code != 401 {
		t.Errorf("no session: %d", rec.Code)
	}
	req := httptest.NewRequest("GET", "/webmail/mobileconfig", nil)
	req.Header.Set("X-Test-User", "alice@example.org")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	body := rec.Body.String()
	// A well-formed plist whose mail payload names the servers.
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
	}
	for _, s := range []string{
		"<key>PayloadType</key><string>com.apple.mail.managed</string>",
		"<key>EmailAccountType</key><string>EmailTypeIMAP</string>",
		"<key>IncomingMailServerHostName</key><string>mail.example.org</string>",
		"<key>IncomingMailServerPortNumber</key><integer>993</integer>",
		"<key>IncomingMailServerUseSSL</key><true/>",
		"<key>OutgoingMailServerPortNumber</key><integer>465</integer>",
		"<key>PayloadType</key><string>Configuration</string>",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("missing %s", s)
		}
	}
	again, _ := MobileConfig(testSettings, "alice@example.org")
	if string(again) != body {
		t.Error("profile not stable: installing it again would add an account")
	}
}
