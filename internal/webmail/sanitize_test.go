package webmail

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const remoteHost = "remote.test"

// loadAttacks returns the corpus with {{REMOTE}} replaced, by name.
func loadAttacks(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("testdata/attacks/*.html")
	if err != nil || len(files) < 50 {
		t.Fatalf("attack corpus: %d files, %v", len(files), err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".html")] = strings.ReplaceAll(string(b), "{{REMOTE}}", remoteHost)
	}
	return out
}

// allowedTags are the elements the sanitiser may let through.
var allowedTags = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`a abbr acronym address b bdi bdo big blockquote br caption center cite code col
		colgroup dd del details dfn div dl dt em figcaption figure font h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark
		ol p pre q rp rt ruby s samp small span strike strong sub summary sup table tbody td tfoot th thead time tr
		tt u ul var wbr`) {
		allowedTags[t] = true
	}
}

// forbiddenText must appear nowhere in sanitised output, whatever the
// case.
var forbiddenText = []string{"<script", "javascript:", "vbscript:", "data:", "<style", "<iframe", "<frame", "<object",
	"<embed", "<applet", "<svg", "<math", "<form", "formaction", "<meta", "<base", "<link", "srcset", "background=",
	"url(", "expression(", "@import", "<noscript", "<template", "<input", "<button", "<textarea", "-moz-binding",
	"behavior", "position:", "z-index", "ping=", "<area", "<video", "<audio", "poster="}

// checkSafe fails when out has anything of the forbidden lists, or an
// element, attribute or URL outside what the sanitiser allows.
// remoteImages says whether <img src> may name the remote host.
func checkSafe(t *testing.T, name, out string, remoteImages bool) {
	t.Helper()
	lower := strings.ToLower(out)
	for _, f := range forbiddenText {
		if strings.Contains(lower, f) {
			t.Errorf("%s: output contains %q: %s", name, f, out)
		}
	}
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt == html.CommentToken || tt == html.DoctypeToken {
			t.Errorf("%s: comment or doctype in output: %s", name, out)
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowedTags[tok.Data] {
			t.Errorf("%s: element <%s> in output", name, tok.Data)
		}
		for _, a := range tok.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Namespace != "" {
				t.Errorf("%s: attribute %s in output", name, a.Key)
			}
			v := strings.ToLower(strings.TrimSpace(a.Val))
			switch a.Key {
			case "href":
				if !regexp.MustCompile(`^(https?|mailto):`).MatchString(v) {
					t.Errorf("%s: href %q", name, a.Val)
				}
			case "src":
				if tok.Data != "img" || !remoteImages || !regexp.MustCompile(`^https?://`).MatchString(v) {
					t.Errorf("%s: src %q on <%s>", name, a.Val, tok.Data)
				}
			case "target":
				if v != "_blank" {
					t.Errorf("%s: target %q", name, a.Val)
				}
			}
		}
	}
	if !remoteImages && strings.Contains(lower, remoteHost) {
		t.Errorf("%s: remote host still named with remote content blocked: %s", name, out)
	}
}

// forbiddenCSS must appear nowhere in a kept style sheet.
var forbiddenCSS = []string{"<", "url", "import", "expression", "script", "behavior", "binding", "position", "\\",
	"font-face", "keyframes", "image", remoteHost, "@media print"}

func checkSafeCSS(t *testing.T, name, css string) {
	t.Helper()
	lower := strings.ToLower(css)
	for _, f := range forbiddenCSS {
		if strings.Contains(lower, f) {
			t.Errorf("%s: style sheet keeps %q: %s", name, f, css)
		}
	}
}

func TestAttackCorpus(t *testing.T) {
	for name, in := range loadAttacks(t) {
		blocked := Sanitize(in, SanitizeOptions{})
		checkSafe(t, name, blocked.HTML, false)
		checkSafeCSS(t, name, blocked.CSS)
		if !strings.Contains(blocked.HTML, "Hello") && name != "utf7-charset-meta" {
			t.Errorf("%s: the message text is gone: %q", name, blocked.HTML)
		}
		if strings.Contains(in, remoteHost) && blocked.Blocked == 0 && !strings.Contains(name, "link") &&
			!strings.Contains(name, "frame") && !strings.Contains(name, "script-src") && !strings.Contains(name, "applet") &&
			!strings.Contains(name, "form") && !strings.Contains(name, "isindex") && !strings.Contains(name, "svg-use") &&
			!strings.Contains(name, "embed") && !strings.Contains(name, "object") && !strings.Contains(name, "ping") &&
			!strings.Contains(name, "meta") && !strings.Contains(name, "base") && !strings.Contains(name, "audio") {
			t.Errorf("%s: remote references not counted", name)
		}
		allowed := Sanitize(in, SanitizeOptions{AllowRemote: true})
		checkSafe(t, name+" (remote allowed)", allowed.HTML, true)
	}
}

func TestSanitizeKeepsFormatting(t *testing.T) {
	in := `<table width="600" cellpadding="4" border="0" bgcolor="#ffffff" style="border-collapse: collapse">
<tr><td align="center" valign="top" style="color: #333333; font-family: Arial, sans-serif; font-size: 14px; padding: 8px 4px; background-color: #eee">
<h1 style="margin: 0">Title</h1><p>Some <b>bold</b>, <i>italic</i> and <a href="https://example.com/a?b=c">a link</a>.</p>
<font color="red" face="Verdana" size="2">old</font><ul><li>one</li></ul><blockquote>quoted</blockquote>
<img src="https://example.com/logo.png" alt="Logo" width="100" height="50"></td></tr></table>`
	out := Sanitize(in, SanitizeOptions{AllowRemote: true}).HTML
	for _, want := range []string{`<table width="600" cellpadding="4" border="0" bgcolor="#ffffff" style="border-collapse: collapse">`,
		`align="center"`, `valign="top"`, "color: #333333", "font-family: Arial, sans-serif", "font-size: 14px",
		"padding: 8px 4px", "background-color: #eee", `<h1 style="margin: 0">`, "<b>bold</b>", "<i>italic</i>",
		`href="https://example.com/a?b=c"`, `target="_blank"`, `rel="`, "noreferrer", "noopener",
		`<font color="red" face="Verdana" size="2">`, "<ul><li>one</li></ul>", "<blockquote>quoted</blockquote>",
		`src="https://example.com/logo.png"`, `alt="Logo"`} {
		if !strings.Contains(out, want) {
			t.Errorf("lost %q in %s", want, out)
		}
	}
}

func TestSanitizeStyleSheets(t *testing.T) {
	in := `<style>
.btn, a.button:hover { color: #fff; background-color: #0066cc; padding: 4px 8px; -webkit-border-radius: 3px }
@media only screen and (max-width: 600px) { .col { width: 100% !important; display: block } }
@import url(other.css);
@font-face { font-family: x; src: url(f.woff) }
p { background: url(x.png); margin: 0 }
td > p + span ~ em { font-weight: bold }
body { position: fixed; color: red }
</style><p class="btn">x</p>`
	got := Sanitize(in, SanitizeOptions{}).CSS
	want := ".btn,a.button:hover{color:#fff;background-color:#0066cc;padding:4px 8px;-webkit-border-radius:3px}" +
		"@media only screen and (max-width: 600px){.col{width:100% !important;display:block}}" +
		"p{margin:0}td > p + span ~ em{font-weight:bold}body{color:red}"
	if got != want {
		t.Errorf("style sheet\n got %s\nwant %s", got, want)
	}
	if out := Sanitize(`<p>no style</p>`, SanitizeOptions{}); out.CSS != "" {
		t.Errorf("CSS from nothing: %q", out.CSS)
	}
}

func TestSanitizeRemoteCounts(t *testing.T) {
	in := `<img src="http://a.test/1.png"><img src="https://a.test/2.png"><img src="//a.test/3.png">
<div style="background: url(http://a.test/4.png)">x</div><table background="http://a.test/5.png"><tr><td>y</td></tr></table>
<img srcset="http://a.test/6.png 1x, https://a.test/7.png 2x"><img src="cid:local">`
	got := Sanitize(in, SanitizeOptions{})
	if got.Blocked != 7 {
		t.Errorf("blocked %d, want 7: %s", got.Blocked, got.HTML)
	}
	if strings.Contains(got.HTML, "a.test") {
		t.Errorf("remote URL left: %s", got.HTML)
	}
	allowed := Sanitize(in, SanitizeOptions{AllowRemote: true})
	// Images stay; the CSS, background and srcset references go, and
	// count. A scheme-relative src is not an http(s) URL bluemonday keeps.
	if !strings.Contains(allowed.HTML, `src="http://a.test/1.png"`) || !strings.Contains(allowed.HTML, `src="https://a.test/2.png"`) {
		t.Errorf("remote images dropped although allowed: %s", allowed.HTML)
	}
	if allowed.Blocked != 5 {
		t.Errorf("blocked with remote allowed %d, want 5 (scheme-relative image, CSS, background, srcset ×2)", allowed.Blocked)
	}
}

func TestSanitizeInlinesCID(t *testing.T) {
	asked := []string{}
	in := `<img src="cid:logo@example.com"><img src="CID:part%40two"><img src="cid:missing">`
	out := Sanitize(in, SanitizeOptions{Inline: func(cid string) string {
		asked = append(asked, cid)
		if cid == "missing" {
			return ""
		}
		return "data:image/png;base64,AAAA"
	}}).HTML
	if strings.Count(out, `src="data:image/png;base64,AAAA"`) != 2 || strings.Contains(out, "cid:") {
		t.Errorf("cid images: %s", out)
	}
	if strings.Join(asked, ",") != "logo@example.com,part@two,missing" {
		t.Errorf("asked for %v", asked)
	}
	if strings.Count(out, "<img") != 3 {
		t.Errorf("an image without its source should stay (its alt text): %s", out)
	}
}

func TestModuleImportVersioned(t *testing.T) {
	in := `import { API } from "./api.js";
import "./keys.js";
export { t } from './i18n.js';
const m = await import("./compose.js");
const s = "./not-an-import.js";`
	got := moduleImport.ReplaceAllString(in, "${1}${2}${3}?v=V${4}")
	for _, want := range []string{`from "./api.js?v=V"`, `import "./keys.js?v=V"`, `from './i18n.js?v=V'`, `import("./compose.js?v=V")`, `"./not-an-import.js"`} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s in\n%s", want, got)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	files, _ := filepath.Glob("testdata/attacks/*.html")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(string(b), false)
	}
	f.Add(`<img src="cid:x"><a href="http://x">y</a>`, true)
	f.Fuzz(func(t *testing.T, in string, remote bool) {
		out := Sanitize(in, SanitizeOptions{AllowRemote: remote, Inline: func(string) string { return "data:image/png;base64,AA==" }})
		lower := strings.ToLower(out.HTML)
		if strings.Contains(lower, "<script") || strings.Contains(lower, "javascript:") {
			t.Fatalf("unsafe output %q from %q", out.HTML, in)
		}
		if strings.ContainsAny(out.CSS, "<\\") || strings.Contains(strings.ToLower(out.CSS), "url") {
			t.Fatalf("unsafe style sheet %q from %q", out.CSS, in)
		}
		if out.Blocked < 0 {
			t.Fatalf("negative count")
		}
	})
}

// TestSanitizeBounded: hostile sizes cost time in proportion to the
// input, not to its square (bluemonday's CSS parser is quadratic in a
// style attribute; CSS parsers loop on broken at-rules).
func TestSanitizeBounded(t *testing.T) {
	long := `<p style="color:` + strings.Repeat(" a", 1<<20) + `">long</p><p style="color: red">short</p>`
	sheet := "<style>" + strings.Repeat("@media {import url(x); @\x00edia print { p { color: red } } }", 1000) +
		strings.Repeat("a ", 1<<17) + "{color:red}" + "</style><p>ok</p>"
	for name, in := range map[string]string{"one long style attribute": long, "broken sheet": sheet} {
		start := time.Now()
		out := Sanitize(in, SanitizeOptions{})
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: %v", name, d)
		}
		if name == "one long style attribute" && (!strings.Contains(out.HTML, "<p>long</p>") || !strings.Contains(out.HTML, `<p style="color: red">short</p>`)) {
			t.Errorf("long style attribute: %.200s", out.HTML)
		}
	}
	// Style attributes past the total reach bluemonday no more.
	attr := "color: red;" + strings.Repeat(" ", 989)
	out := Sanitize(strings.Repeat(`<p style="`+attr+`">x</p>`, 2*maxStyleAttrs/len(attr)), SanitizeOptions{})
	if n := strings.Count(out.HTML, "style="); n != maxStyleAttrs/len(attr) {
		t.Errorf("%d style attributes kept, want %d", n, maxStyleAttrs/len(attr))
	}
}
