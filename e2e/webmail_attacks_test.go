package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// attackDir is the HTML-mail attack corpus (written with the sanitiser,
// internal/webmail). A file is a whole message (.eml) or an HTML body
// (.html, .htm) the test wraps in one.
const attackDir = "../internal/webmail/testdata/attacks"

// remotePlaceholders, wherever they stand in a corpus file, become the
// attack's own remote host name ({{REMOTE}} is the corpus README's
// convention). Every host name resolves to the beacon in the test's
// Chromium, so other remote names work too; the per-attack name only
// tells the beacon's log which message asked.
var remotePlaceholders = []string{"{{REMOTE}}", "REMOTE_HOST"}

// survivor is the text every corpus file holds that sanitising must keep.
const survivor = "Hello"

type attack struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Blocked int    `json:"blocked"` // X-Postern-Blocked-Remote at remote=0
	Host    string `json:"host"`    // its own remote host name
	subject string
	// survivor: the file holds the text that must survive.
	survivor bool
	// hosts are the host names in the message's text: a beacon hit for
	// another name is Chromium's own traffic, not the message's.
	hosts []string
}

var hostInText = regexp.MustCompile(`(?i)//([a-z0-9][a-z0-9.-]*[a-z0-9])`)

// fromMessage tells whether a beacon hit is for one of the message's
// hosts (a TLS handshake without a server name is counted too).
func (a *attack) fromMessage(h beaconHit) bool {
	host := strings.ToLower(h.Host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host == "" || strings.HasSuffix(host, ".remote.test") || slices.Contains(a.hosts, host)
}

// loadAttacks reads the corpus and turns each file into a message to
// alice whose subject names it.
func loadAttacks(t *testing.T) ([]*attack, map[*attack]string) {
	t.Helper()
	entries, err := os.ReadDir(attackDir)
	if err != nil {
		t.Fatalf("the attack corpus %s: %v", attackDir, err)
	}
	var list []*attack
	msgs := map[*attack]string{}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".eml" && ext != ".html" && ext != ".htm") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(attackDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		a := &attack{Name: e.Name(), Host: fmt.Sprintf("a%03d.remote.test", len(list))}
		a.subject = "attack " + a.Name
		text := string(data)
		for _, p := range remotePlaceholders {
			text = strings.ReplaceAll(text, p, a.Host)
		}
		// Chromium maps every host name to the beacon, but an address is
		// dialled as it is: only loopback ones may be in the corpus.
		for _, m := range hostInText.FindAllStringSubmatch(text, -1) {
			if ip := net.ParseIP(strings.Trim(m[1], "[]")); ip != nil && !ip.IsLoopback() {
				t.Fatalf("%s refers to the address %s: the test would send a request there; use {{REMOTE}}", e.Name(), ip)
			}
		}
		a.survivor = strings.Contains(text, survivor)
		for _, m := range hostInText.FindAllStringSubmatch(text, -1) {
			a.hosts = append(a.hosts, strings.ToLower(m[1]))
		}
		if ext == ".eml" {
			msgs[a] = withSubject(text, a.subject)
		} else {
			msgs[a] = htmlMessage("attacker@remote.test", alice, a.subject, text)
		}
		list = append(list, a)
	}
	return list, msgs
}

// withSubject replaces (or adds) the Subject of a raw message and makes
// its line ends CRLF.
func withSubject(raw, subject string) string {
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		head, body = raw, ""
	}
	var lines []string
	skipping := false
	for _, l := range strings.Split(head, "\r\n") {
		if skipping && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			continue
		}
		skipping = strings.HasPrefix(strings.ToLower(l), "subject:")
		if !skipping {
			lines = append(lines, l)
		}
	}
	lines = append(lines, "Subject: "+subject)
	return strings.Join(lines, "\r\n") + "\r\n\r\n" + body
}

// TestWebmailAttacks delivers every message of the attack corpus and
// opens it in Chromium, in the reader's sandbox and through the SPA's
// reader: no script may run (no dialog, no console output of a script, no
// global set, no request) and no request may reach a remote host until
// the reader allows remote content; after "allow once" only images load.
// The sanitised HTML itself must hold nothing active either (the sandbox
// and the CSP are the second and third walls, not the first).
func TestWebmailAttacks(t *testing.T) {
	t.Parallel()
	attacks, msgs := loadAttacks(t)
	if len(attacks) < 50 {
		t.Errorf("the attack corpus %s has %d messages, want at least 50", attackDir, len(attacks))
	}
	if len(attacks) == 0 {
		t.FailNow()
	}
	w := startWebmail(t, map[string]any{"log.level": "warn"})
	bc := startBeacon(t)
	benign := "attack baseline (benign)"
	mustSend(t, w.Addr["smtp"], "friend@remote.test", []string{alice}, htmlMessage("friend@remote.test", alice, benign, "<p>Hello <b>there</b>.</p>"))
	subjects := []string{benign}
	for _, a := range attacks {
		if err := sendSMTP(w.Addr["smtp"], "attacker@remote.test", []string{alice}, msgs[a]); err != nil {
			t.Errorf("delivering %s: %v", a.Name, err)
			continue
		}
		subjects = append(subjects, a.subject)
	}
	s := w.login(t, alice, pass)
	inbox := s.mailboxIDs()["inbox"]
	ids := s.waitEmails(inbox, subjects, 30*time.Second)
	var delivered []*attack
	for _, a := range attacks {
		if a.ID = ids[a.subject]; a.ID != "" {
			delivered = append(delivered, a)
		}
	}

	// The server's answer for each message, before any browser.
	for _, a := range delivered {
		checkSanitised(t, s, a)
	}

	var got attackResult
	runBrowser(t, "attacks.mjs", map[string]any{
		"base": w.base, "user": alice, "pass": pass,
		"beacon": bc.addr, "control": bc.control,
		"attacks": delivered, "baselineID": ids[benign],
		"shotDir": screenshotDir(t),
	}, 150*time.Second, &got)
	checkAttackResult(t, got, delivered)
}

// checkSanitised fetches /webmail/html/{id} with and without remote
// content and checks its headers and that the HTML holds nothing active.
func checkSanitised(t *testing.T, s *wmSession, a *attack) {
	t.Helper()
	for _, remote := range []string{"0", "1"} {
		resp, body := s.get("/webmail/html/" + a.ID + "?remote=" + remote)
		where := fmt.Sprintf("%s: GET /webmail/html/%s?remote=%s", a.Name, a.ID, remote)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", where, resp.StatusCode, short(string(body)))
			return
		}
		csp := parseCSP(resp.Header.Get("Content-Security-Policy"))
		for dir, want := range map[string]string{"default-src": "'none'", "frame-ancestors": "'self'", "base-uri": "'none'", "form-action": "'none'"} {
			if got := strings.Join(csp[dir], " "); got != want {
				t.Errorf("%s: CSP %s is %q, want %q (header %q)", where, dir, got, want, resp.Header.Get("Content-Security-Policy"))
			}
		}
		for _, dir := range []string{"script-src", "connect-src", "frame-src", "child-src", "object-src", "media-src"} {
			if v, ok := csp[dir]; ok {
				t.Errorf("%s: CSP allows %s %v (default-src 'none' must rule)", where, dir, v)
			}
		}
		img := csp["img-src"]
		if remote == "0" && (slices.Contains(img, "http:") || slices.Contains(img, "https:") || slices.Contains(img, "*")) {
			t.Errorf("%s: CSP img-src %v allows remote images", where, img)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", where, got)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", where, ct)
		}
		if remote == "0" {
			n, err := strconv.Atoi(resp.Header.Get("X-Postern-Blocked-Remote"))
			if err != nil {
				t.Errorf("%s: X-Postern-Blocked-Remote %q", where, resp.Header.Get("X-Postern-Blocked-Remote"))
			}
			a.Blocked = n
		}
		if a.survivor && !strings.Contains(visibleText(string(body)), survivor) {
			t.Errorf("%s: the text %q did not survive sanitising", where, survivor)
		}
		for _, leak := range activeContent(string(body), remote == "0") {
			t.Errorf("%s: the sanitised HTML still has %s", where, leak)
		}
	}
}

// parseCSP splits a Content-Security-Policy header into directives.
func parseCSP(h string) map[string][]string {
	m := map[string][]string{}
	for _, d := range strings.Split(h, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			m[strings.ToLower(f[0])] = f[1:]
		}
	}
	return m
}

var (
	cssDanger   = regexp.MustCompile(`(?i)url\s*\(|@import|expression\s*\(|-moz-binding|behavior\s*:`)
	activeURL   = regexp.MustCompile(`(?i)^\s*(javascript|vbscript|data|livescript|mocha|jar|file|filesystem|blob):`)
	remoteURL   = regexp.MustCompile(`(?i)(^|[\s,])(https?:)?//`)
	dataImage   = regexp.MustCompile(`(?i)^\s*data:image/(png|gif|jpe?g|webp|bmp);base64,`)
	activeElems = []string{"script", "iframe", "frame", "frameset", "object", "embed", "applet", "meta", "base", "link", "form", "input", "button", "select", "textarea", "noscript", "template", "portal", "math", "svg", "animate", "set", "foreignobject", "handler", "listener", "xml", "import", "audio", "video", "source", "track"}
)

// activeContent parses the sanitised HTML as a browser would and lists
// what should not be there: active elements, event handlers, script or
// data URLs in links and sources, CSS that loads or runs anything, and
// (when noRemote) any remote URL a browser would fetch by itself.
func activeContent(doc string, noRemote bool) []string {
	var leaks []string
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return []string{"unparseable HTML: " + err.Error()}
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			tag := strings.ToLower(n.Data)
			if slices.Contains(activeElems, tag) && !wrapperElement(n) {
				leaks = append(leaks, fmt.Sprintf("a <%s> element %s", tag, attrString(n)))
			}
			if tag == "style" {
				var css strings.Builder
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					css.WriteString(c.Data)
				}
				if cssDanger.MatchString(css.String()) {
					leaks = append(leaks, fmt.Sprintf("a <style> with %q", cssDanger.FindString(css.String())))
				}
			}
			for _, at := range n.Attr {
				if wrapperElement(n) {
					break
				}
				key := strings.ToLower(at.Key)
				switch {
				case strings.HasPrefix(key, "on"):
					leaks = append(leaks, fmt.Sprintf("an event handler %s on <%s>", key, tag))
				case key == "style" && cssDanger.MatchString(at.Val):
					leaks = append(leaks, fmt.Sprintf("a style attribute with %q on <%s>", cssDanger.FindString(at.Val), tag))
				case key == "formaction" || key == "action" || key == "xlink:href" || key == "srcdoc" || key == "http-equiv":
					leaks = append(leaks, fmt.Sprintf("an attribute %s on <%s>", key, tag))
				case key == "href" || key == "src" || key == "background" || key == "srcset" || key == "poster" || key == "lowsrc" || key == "dynsrc" || key == "longdesc" || key == "cite" || key == "ping":
					val := at.Val
					if tag == "img" && key == "src" && dataImage.MatchString(val) {
						continue // an inlined cid: image
					}
					if activeURL.MatchString(val) {
						leaks = append(leaks, fmt.Sprintf("%s=%q on <%s>", key, short(val), tag))
					} else if noRemote && key != "href" && key != "cite" && remoteURL.MatchString(val) {
						leaks = append(leaks, fmt.Sprintf("a remote %s=%q on <%s> with remote=0", key, short(val), tag))
					} else if key == "ping" {
						leaks = append(leaks, fmt.Sprintf("ping=%q on <%s>", short(val), tag))
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return leaks
}

// visibleText is the text of the document's body, as a reader sees it.
func visibleText(doc string) string {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return ""
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode && (n.Parent == nil || (n.Parent.Data != "style" && n.Parent.Data != "title")) {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return b.String()
}

// wrapperElement tells the server's own head elements, which are
// harmless: <meta charset>, <meta name=referrer content=no-referrer>,
// <meta http-equiv=x-dns-prefetch-control content=off> and <base target>
// without href.
func wrapperElement(n *html.Node) bool {
	attrs := map[string]string{}
	for _, a := range n.Attr {
		attrs[strings.ToLower(a.Key)] = strings.ToLower(a.Val)
	}
	switch strings.ToLower(n.Data) {
	case "meta":
		if len(attrs) == 1 && attrs["charset"] != "" {
			return true
		}
		if len(attrs) == 2 && attrs["http-equiv"] == "x-dns-prefetch-control" && attrs["content"] == "off" {
			return true
		}
		return len(attrs) == 2 && attrs["name"] == "referrer" && attrs["content"] == "no-referrer"
	case "base":
		_, ok := attrs["target"]
		return len(attrs) == 1 && ok
	}
	return false
}

func attrString(n *html.Node) string {
	var b strings.Builder
	for _, a := range n.Attr {
		fmt.Fprintf(&b, " %s=%q", a.Key, short(a.Val))
	}
	return strings.TrimSpace(b.String())
}

// attackResult is what attacks.mjs prints.
type attackResult struct {
	Login          string `json:"login"`
	LoginError     string `json:"loginError"`
	LoginFormError string `json:"loginFormError"`
	TopCookie      string `json:"topCookie"`
	Baseline       struct {
		Error   string
		Globals int
	} `json:"baseline"`
	Direct       []attackRun `json:"direct"`
	Reader       []attackRun `json:"reader"`
	ReaderError  string      `json:"readerError"`
	ReaderSample int         `json:"readerSample"`
	DirectMs     int         `json:"directMs"`
	Unattributed []beaconHit `json:"unattributed"`
	Shots        []string    `json:"shots"`
}

type attackRun struct {
	Name    string         `json:"name"`
	ID      string         `json:"id"`
	Remote0 *attackObserve `json:"remote0"`
	Remote1 *attackObserve `json:"remote1"`
}

type attackObserve struct {
	Error        string                       `json:"error"`
	Hits         []beaconHit                  `json:"hits"`
	Dialogs      []string                     `json:"dialogs"`
	Consoles     []string                     `json:"consoles"`
	Popups       []string                     `json:"popups"`
	Requests     []struct{ URL, Type string } `json:"requests"`
	InspectError string                       `json:"inspectError"`
	NewGlobals   []string                     `json:"newGlobals"`
	Cookie       string                       `json:"cookie"`
	Hello        bool                         `json:"hello"`
	Bar          bool                         `json:"bar"`
	Attrs        *struct {
		Tag, Sandbox, Referrerpolicy, Src string
		HasSandbox                        bool
	} `json:"attrs"`
}

func checkAttackResult(t *testing.T, got attackResult, attacks []*attack) {
	t.Helper()
	if got.Login == "" {
		t.Fatalf("could not log in in Chromium: form: %s; API: %s", got.LoginFormError, got.LoginError)
	}
	if got.Login != "form" {
		t.Errorf("the SPA's login form did not log in: %s", got.LoginFormError)
	}
	if strings.Contains(got.TopCookie, sessionCookie) {
		t.Errorf("document.cookie of the webmail page shows the session cookie: %q", got.TopCookie)
	}
	if got.Baseline.Error != "" {
		t.Errorf("the benign message in the sandboxed iframe: %s", got.Baseline.Error)
	}
	byName := map[string]*attack{}
	for _, a := range attacks {
		byName[a.Name] = a
	}
	if len(got.Direct) != len(attacks) {
		t.Errorf("direct: %d attacks opened, want %d", len(got.Direct), len(attacks))
	}
	imagesAllowed := 0
	for _, r := range got.Direct {
		a := byName[r.Name]
		if a == nil {
			t.Errorf("direct: an attack %q that was not sent", r.Name)
			continue
		}
		checkNothingRan(t, "sandboxed iframe, remote=0", a, r.Remote0)
		if r.Remote1 != nil {
			checkNothingRan(t, "sandboxed iframe, remote=1", a, r.Remote1)
			imagesAllowed += checkOnlyImages(t, "sandboxed iframe, remote=1", a, r.Remote1)
		}
	}
	blockedSome := 0
	for _, a := range attacks {
		if a.Blocked > 0 {
			blockedSome++
		}
	}
	if blockedSome > 0 && imagesAllowed == 0 {
		t.Errorf("with remote=1 no remote image of the %d messages with blocked remote content loaded", blockedSome)
	}

	if got.ReaderError != "" {
		t.Errorf("reader: %s", got.ReaderError)
	}
	readerAllowed := 0
	for _, r := range got.Reader {
		o, a := r.Remote0, byName[r.Name]
		if o == nil || a == nil {
			continue
		}
		if o.Error != "" {
			t.Errorf("reader /m/%s (%s): %s", r.ID, r.Name, o.Error)
			continue
		}
		checkNothingRan(t, "reader", a, o)
		if o.Attrs != nil {
			checkSandboxAttrs(t, r.Name, o.Attrs.Tag, o.Attrs.HasSandbox, o.Attrs.Sandbox, o.Attrs.Referrerpolicy, o.Attrs.Src)
		}
		if (a.Blocked > 0) != o.Bar {
			t.Errorf("reader %s: remote-blocked bar shown=%v, but the server blocked %d remote URLs", r.Name, o.Bar, a.Blocked)
		}
		if r.Remote1 != nil {
			if r.Remote1.Error != "" {
				t.Errorf("reader %s, allow-remote-once: %s", r.Name, r.Remote1.Error)
				continue
			}
			checkNothingRan(t, "reader after allow-remote-once", a, r.Remote1)
			readerAllowed += checkOnlyImages(t, "reader after allow-remote-once", a, r.Remote1)
			if r.Remote1.Bar {
				t.Errorf("reader %s: the remote-blocked bar is still shown after allow-remote-once", r.Name)
			}
		}
	}
	if got.ReaderError == "" && len(got.Reader) != got.ReaderSample {
		t.Errorf("reader: %d attacks opened, want %d", len(got.Reader), got.ReaderSample)
	}
	for _, h := range got.Unattributed {
		t.Errorf("a TLS handshake without a server name reached the beacon (a message's https URL to an address?): %+v", h)
	}
	if got.ReaderError == "" && blockedSome > 0 && readerAllowed == 0 {
		t.Errorf("reader: after allow-remote-once no remote image loaded in any of the %d messages with blocked remote content", blockedSome)
	}
	t.Logf("attacks: %d messages (direct in %d ms), %d with remote content blocked; %d remote images loaded after allowing (direct), %d (reader, %d messages); screenshots %v",
		len(attacks), got.DirectMs, blockedSome, imagesAllowed, readerAllowed, got.ReaderSample, got.Shots)
}

// checkNothingRan: no dialog, no script's console output or CSP/sandbox
// report, no global, no popup, no cookie, and with remote=0 no request
// left the webmail's origin.
func checkNothingRan(t *testing.T, where string, a *attack, o *attackObserve) {
	t.Helper()
	if o == nil || a == nil {
		return
	}
	name := a.Name
	if o.Error != "" {
		t.Errorf("%s %s: %s", where, name, o.Error)
	}
	for _, d := range o.Dialogs {
		t.Errorf("%s %s: a script opened a dialog: %s", where, name, d)
	}
	for _, c := range o.Consoles {
		// A failed load goes with a request, judged below.
		if strings.Contains(c, "Failed to load resource") {
			continue
		}
		// The browser blocking something (the sandbox, the CSP) means the
		// sanitiser let it through: the first wall failed.
		t.Errorf("%s %s: console: %s", where, name, short(c))
	}
	for _, p := range o.Popups {
		t.Errorf("%s %s: a window opened by itself: %s", where, name, p)
	}
	if len(o.NewGlobals) > 0 {
		t.Errorf("%s %s: the message's window has globals a script set: %v", where, name, o.NewGlobals)
	}
	if o.InspectError != "" {
		t.Errorf("%s %s: inspecting the message frame: %s", where, name, o.InspectError)
	} else if a.survivor && !o.Hello {
		t.Errorf("%s %s: the frame does not show the text %q", where, name, survivor)
	}
	if strings.Contains(o.Cookie, sessionCookie) {
		t.Errorf("%s %s: document.cookie in the message frame shows the session: %q", where, name, o.Cookie)
	}
	if strings.Contains(where, "remote=0") || where == "reader" {
		for _, h := range o.Hits {
			if !a.fromMessage(h) {
				t.Logf("%s %s: beacon hit for a host not in the message (Chromium's own?): %s %s %s%s", where, name, h.Kind, h.Method, h.Host, h.Path)
				continue
			}
			t.Errorf("%s %s: a request reached the remote host (beacon): %s %s %s%s", where, name, h.Kind, h.Method, h.Host, h.Path)
		}
		for _, r := range o.Requests {
			t.Errorf("%s %s: the browser requested %s (%s) before remote content was allowed", where, name, short(r.URL), r.Type)
		}
	}
}

// checkOnlyImages: after allowing remote content, everything that left is
// an image; it returns how many images reached the beacon.
func checkOnlyImages(t *testing.T, where string, a *attack, o *attackObserve) int {
	t.Helper()
	name := a.Name
	for _, r := range o.Requests {
		if r.Type != "image" {
			t.Errorf("%s %s: a remote %s was requested: %s", where, name, r.Type, short(r.URL))
		}
	}
	images := 0
	for _, h := range o.Hits {
		switch {
		case !a.fromMessage(h):
			t.Logf("%s %s: beacon hit for a host not in the message (Chromium's own?): %s %s %s%s", where, name, h.Kind, h.Method, h.Host, h.Path)
		case h.Kind == "tls":
			// an https image: the handshake is all the beacon sees; the
			// browser-side list above says what it was for.
			images++
		case h.Kind == "http" && (strings.HasPrefix(h.Accept, "image/") || h.Dest == "image"):
			images++
		default:
			t.Errorf("%s %s: the beacon got a non-image request %s %s%s (Accept %q)", where, name, h.Method, h.Host, h.Path, h.Accept)
		}
	}
	return images
}

// checkSandboxAttrs: the reader shows the HTML in an iframe with exactly
// the spec's sandbox (no scripts, no same origin) and no referrer.
func checkSandboxAttrs(t *testing.T, name, tag string, hasSandbox bool, sandbox, refpol, src string) {
	t.Helper()
	if tag != "iframe" {
		t.Errorf("reader %s: reader-html is a <%s>, want an <iframe>", name, tag)
		return
	}
	if !hasSandbox {
		t.Errorf("reader %s: the HTML iframe has no sandbox attribute", name)
		return
	}
	tokens := strings.Fields(sandbox)
	for _, bad := range []string{"allow-scripts", "allow-same-origin", "allow-forms", "allow-top-navigation", "allow-modals"} {
		if slices.Contains(tokens, bad) {
			t.Errorf("reader %s: iframe sandbox %q has %s", name, sandbox, bad)
		}
	}
	if !slices.Contains(tokens, "allow-popups") || !slices.Contains(tokens, "allow-popups-to-escape-sandbox") {
		t.Errorf("reader %s: iframe sandbox %q, want %q (links open in a new tab)", name, sandbox, "allow-popups allow-popups-to-escape-sandbox")
	}
	if refpol != "no-referrer" {
		t.Errorf("reader %s: iframe referrerpolicy %q", name, refpol)
	}
	if !strings.Contains(src, "/webmail/html/") {
		t.Errorf("reader %s: iframe src %q is not /webmail/html/{id}", name, src)
	}
}
