package webmail

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
)

// newsletter is an HTML mail with an inline image (cid), a remote image,
// a tracking pixel and a script.
const newsletter = `From: News <news@example.net>
To: alice@example.org
Subject: Weekly
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

plain version
--alt
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><title>Weekly</title><script>alert(1)</script></head><body>
<p style=3D"color: red">Caf=E9 news</p>
<img src=3D"cid:logo@example.net" alt=3D"logo">
<img src=3D"http://remote.test/photo.jpg">
<img src=3D"https://remote.test/pixel.gif" width=3D"1" height=3D"1">
</body></html>
--alt--
--rel
Content-Type: image/png
Content-ID: <logo@example.net>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
`

func TestHTMLView(t *testing.T) {
	e := newEnv(t)
	id := e.deliver(newsletter)
	b := e.browser()
	if resp, _ := b.do("GET", "/webmail/html/"+id, nil); resp.StatusCode != 401 {
		t.Fatalf("without a session: %d", resp.StatusCode)
	}
	b.mustLogin()
	resp, body := b.do("GET", "/webmail/html/"+id+"?remote=0", nil)
	out := string(body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if got := resp.Header.Get("X-Postern-Blocked-Remote"); got != "2" {
		t.Errorf("blocked %q, want 2", got)
	}
	if resp.Header.Get("X-Postern-Remote") != "blocked" {
		t.Errorf("X-Postern-Remote %q", resp.Header.Get("X-Postern-Remote"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if csp != "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox" {
		t.Errorf("CSP %q", csp)
	}
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n"))
	for _, want := range []string{"Café news", `style="color: red"`, `src="data:image/png;base64,` + png + `"`, `alt="logo"`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
	for _, gone := range []string{"remote.test", "<script", "alert", "plain version", "<title"} {
		if strings.Contains(out, gone) {
			t.Errorf("%q left in %s", gone, out)
		}
	}

	resp, body = b.do("GET", "/webmail/html/"+id+"?remote=1", nil)
	out = string(body)
	if !strings.Contains(out, `src="http://remote.test/photo.jpg"`) || !strings.Contains(out, `src="https://remote.test/pixel.gif"`) {
		t.Errorf("remote=1 dropped remote images: %s", out)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data: https: http:;") {
		t.Errorf("remote=1 CSP %q", csp)
	}
	if resp.Header.Get("X-Postern-Blocked-Remote") != "0" || resp.Header.Get("X-Postern-Remote") != "allowed" {
		t.Errorf("remote=1 headers %v", resp.Header)
	}

	// Another account's message, or no message: 404.
	bob := e.browser()
	if status, _ := bob.login("bob@example.org", alicePassword); status != 200 {
		t.Fatal("bob")
	}
	for _, path := range []string{"/webmail/html/" + id, "/webmail/raw/" + id} {
		if resp, _ := bob.do("GET", path, nil); resp.StatusCode != 404 {
			t.Errorf("bob reads alice's %s: %d", path, resp.StatusCode)
		}
	}
	for _, bad := range []string{"e0", "x1", "e99999", "e1e"} {
		if resp, _ := b.do("GET", "/webmail/html/"+bad, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
}

func TestTrustedSenderLoadsRemote(t *testing.T) {
	e := newEnv(t)
	id := e.deliver(newsletter)
	b := e.browser()
	b.mustLogin()
	resp, body := b.do("POST", "/webmail/prefs", map[string]string{"trustSender": "News@Example.net"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"trustedSenders":["news@example.net"]`) {
		t.Fatalf("trust: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do("GET", "/webmail/html/"+id, nil)
	if !strings.Contains(string(body), "http://remote.test/photo.jpg") || resp.Header.Get("X-Postern-Remote") != "allowed" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "https:") {
		t.Errorf("trusted sender's images blocked: %v %s", resp.Header, body)
	}
	b.do("POST", "/webmail/prefs", map[string]string{"untrustSender": "news@example.net"})
	if _, body = b.do("GET", "/webmail/html/"+id, nil); strings.Contains(string(body), "remote.test") {
		t.Errorf("untrusted sender's images loaded: %s", body)
	}
}

func TestPlainTextAndRaw(t *testing.T) {
	e := newEnv(t)
	raw := "From: a@example.net\nSubject: plain\nContent-Type: text/plain; charset=utf-8\n\n<script>alert(1)</script> & hello\n"
	id := e.deliver(raw)
	b := e.browser()
	b.mustLogin()
	_, body := b.do("GET", "/webmail/html/"+id, nil)
	if !strings.Contains(string(body), `<div class="postern-text">&lt;script&gt;alert(1)&lt;/script&gt; &amp; hello`) {
		t.Errorf("plain text as HTML: %s", body)
	}
	resp, body := b.do("GET", "/webmail/raw/"+id, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != "inline" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("raw: %d %v", resp.StatusCode, resp.Header)
	}
	if string(body) != strings.ReplaceAll(raw, "\n", "\r\n") {
		t.Errorf("raw body %q", body)
	}
}

// imageMessage is an HTML message with n inline PNG parts of size
// bytes each, each referenced by cid refs times.
func imageMessage(n, size, refs int) string {
	var b strings.Builder
	b.WriteString("From: a@example.net\nSubject: images\nContent-Type: multipart/related; boundary=\"b\"\n\n--b\nContent-Type: text/html\n\n")
	for range refs {
		for i := range n {
			fmt.Fprintf(&b, `<img src="cid:img%d@x" alt="i%d">`, i, i)
		}
	}
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89}, size))
	for i := range n {
		fmt.Fprintf(&b, "\n--b\nContent-Type: image/png\nContent-ID: <img%d@x>\nContent-Transfer-Encoding: base64\n\n", i)
		for len(data) > 0 {
			l := min(76, len(data))
			b.WriteString(data[:l] + "\n")
			data = data[l:]
		}
		data = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89}, size))
	}
	b.WriteString("--b--\n")
	return b.String()
}

func TestCIDLimits(t *testing.T) {
	e := newEnv(t)
	if e.wm.inlineEach != 2<<20 || e.wm.inlineTotal != 10<<20 {
		t.Fatalf("limits %d, %d; want 2 MiB each, 10 MiB in all", e.wm.inlineEach, e.wm.inlineTotal)
	}
	// The same rules at a smaller scale: 64 KiB each, 320 KiB in all.
	e.wm.inlineEach, e.wm.inlineTotal = 64<<10, 320<<10
	b := e.browser()
	b.mustLogin()
	inlined := regexp.MustCompile(`src="data:image/png;base64,`)

	// One image over the limit is not inlined; one at it is.
	_, body := b.do("GET", "/webmail/html/"+e.deliver(imageMessage(1, 64<<10+1, 1)), nil)
	if n := len(inlined.FindAll(body, -1)); n != 0 {
		t.Errorf("image over the limit inlined (%d)", n)
	}
	if !strings.Contains(string(body), `alt="i0"`) {
		t.Errorf("image without its data lost its alt text")
	}
	_, body = b.do("GET", "/webmail/html/"+e.deliver(imageMessage(1, 64<<10, 1)), nil)
	if n := len(inlined.FindAll(body, -1)); n != 1 {
		t.Errorf("image at the limit not inlined (%d)", n)
	}

	// Six images of 60 KiB: five fit in the total.
	_, body = b.do("GET", "/webmail/html/"+e.deliver(imageMessage(6, 60<<10, 1)), nil)
	if n := len(inlined.FindAll(body, -1)); n != 5 {
		t.Errorf("%d images inlined, want 5 within %d bytes", n, e.wm.inlineTotal)
	}
	// An image shown twice counts once.
	_, body = b.do("GET", "/webmail/html/"+e.deliver(imageMessage(5, 60<<10, 2)), nil)
	if n := len(inlined.FindAll(body, -1)); n != 10 {
		t.Errorf("%d of 10 references inlined", n)
	}
}

func TestShellAndAssets(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	resp, body := b.do("GET", "/m/e12", nil, "Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
	page := string(body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(page, `<html lang="zh-CN">`) {
		t.Fatalf("shell: %d %s", resp.StatusCode, page)
	}
	ver := regexp.MustCompile(`src="/assets/app\.js\?v=([0-9a-f]{16})"`).FindStringSubmatch(page)
	if ver == nil || !strings.Contains(page, `href="/assets/style.css?v=`+ver[1]+`"`) ||
		!strings.Contains(page, `<meta name="postern-asset-version" content="`+ver[1]+`">`) {
		t.Fatalf("asset URLs in %s", page)
	}
	if regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Errorf("inline script or style in the shell: %s", page)
	}
	if _, body := b.do("GET", "/", nil, "Accept-Language", "fr"); !strings.Contains(string(body), `<html lang="en">`) {
		t.Errorf("fallback language: %s", body)
	}
	// A logged-in account's choice wins over the browser's.
	b.mustLogin()
	b.do("POST", "/webmail/prefs", map[string]string{"lang": "zh-CN"})
	if _, body := b.do("GET", "/", nil, "Accept-Language", "en"); !strings.Contains(string(body), `<html lang="zh-CN">`) {
		t.Errorf("saved language not used: %s", body)
	}

	resp, js := b.do("GET", "/assets/app.js?v="+ver[1], nil)
	if resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("versioned asset: %v", resp.Header)
	}
	resp, _ = b.do("GET", "/assets/app.js?v=old", nil)
	if resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("stale version cached: %v", resp.Header)
	}
	// Go's client asks for gzip itself and undoes it; ask by hand.
	r := b.req("GET", "/assets/app.js?v="+ver[1], nil, "Accept-Encoding", "gzip")
	resp, gz := b.send(r)
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, js) {
		t.Errorf("gzip body differs")
	}
	resp, _ = b.send(b.req("GET", "/assets/app.js", nil, "If-None-Match", resp.Header.Get("ETag")))
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/assets/index.html", nil); resp.StatusCode != 404 {
		t.Errorf("the template is served as an asset: %d", resp.StatusCode)
	}
}
