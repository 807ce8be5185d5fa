package webmail

// The sanitiser of HTML mail. bluemonday keeps a list of elements,
// attributes, URL schemes and CSS properties and drops the rest (script,
// style sheets, forms, frames, objects, SVG and MathML, event handlers,
// every URL scheme but http, https, mailto and cid); a second pass over
// its output then decides each image: a cid: image becomes a data: URI
// of the message's own part, a remote one stays only when remote content
// is allowed. What remote content the message asked for is counted
// before, on the input, for the "remote content blocked" bar.
//
// The HTML is shown in an iframe without scripts, under a CSP that lets
// no request leave unless remote images are allowed: the sanitiser is one
// of three walls, not the only one.

import (
	"bytes"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	bmcss "github.com/microcosm-cc/bluemonday/css"
	"golang.org/x/net/html"
)

// SanitizeOptions say how to treat a message's images.
type SanitizeOptions struct {
	// AllowRemote keeps http and https images (the reader allowed remote
	// content, or trusts the sender). Other remote references (CSS,
	// backgrounds, srcset) are removed whatever it says.
	AllowRemote bool
	// Inline returns the data: URI of the message's part with this
	// Content-ID, or "" when there is none (or it is over the limits).
	Inline func(cid string) string
}

// Sanitized is the result of Sanitize.
type Sanitized struct {
	// HTML goes inside <body>.
	HTML string
	// CSS is what is safe of the message's style sheets, for a <style>
	// element of the document's head (it holds no "<").
	CSS string
	// Blocked counts the remote references removed.
	Blocked int
}

// mailPolicy is built once: a bluemonday Policy is safe for concurrent
// use once built.
var mailPolicy = newMailPolicy()

// Sanitize returns the safe form of an HTML message body: a fragment to
// put inside <body>.
func Sanitize(in string, o SanitizeOptions) Sanitized {
	sv := survey(in)
	clean := mailPolicy.Sanitize(sv.html)
	out, removed := rewriteImages(clean, o)
	return Sanitized{HTML: defuseSchemes(out), CSS: sanitizeSheets(sv.sheets), Blocked: sv.remote + removed}
}

// scriptScheme is a script URL scheme's name as it can be left in text
// or in a harmless attribute ("see javascript:void(0)" in a title).
var scriptScheme = regexp.MustCompile(`(?i)(java|vb)script:`)

// defuseSchemes writes the colon of those as a character reference: the
// reader sees the same text, and the HTML holds no "javascript:" a later
// mistake (ours or a browser's) could take for a URL.
func defuseSchemes(s string) string {
	if !strings.Contains(s, ":") {
		return s
	}
	return scriptScheme.ReplaceAllString(s, "${1}script&#58;")
}

// Attribute values bluemonday checks with these patterns.
var (
	lengthValue = regexp.MustCompile(`^\s*[0-9]{1,5}(\.[0-9]{1,3})?\s*(%|px)?\s*$`)
	colorValue  = regexp.MustCompile(`^\s*(#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,30})\s*$`)
	alignValue  = regexp.MustCompile(`^(?i)(left|right|center|justify|top|middle|bottom|baseline|char|texttop|absmiddle|absbottom)$`)
	plainText   = regexp.MustCompile(`^[^<>]{0,512}$`)
	fontFace    = regexp.MustCompile(`^[\p{L}\p{N} ,'"_-]{0,200}$`)
	fontSize    = regexp.MustCompile(`^\s*[+-]?[1-7]\s*$`)
	langValue   = regexp.MustCompile(`^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,4}$`)
	dirValue    = regexp.MustCompile(`^(?i)(ltr|rtl|auto)$`)
	classValue  = regexp.MustCompile(`^[\w\- ]{0,200}$`)
	spanValue   = regexp.MustCompile(`^[0-9]{1,3}$`)
)

// cssProperties are the CSS properties kept in style attributes; each
// value must pass bluemonday's check for that property and safeCSS.
// Nothing that takes a URL (background, background-image, list-style,
// border-image, cursor, content, filter) and nothing that places a box
// outside the flow (position, z-index).
var cssProperties = []string{
	"color", "background-color", "opacity",
	"font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
	"line-height", "letter-spacing", "word-spacing", "white-space", "word-break", "word-wrap", "overflow-wrap",
	"text-align", "text-decoration", "text-decoration-color", "text-decoration-line", "text-decoration-style",
	"text-indent", "text-transform", "text-overflow", "vertical-align", "direction", "unicode-bidi",
	"margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
	"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
	"border", "border-top", "border-right", "border-bottom", "border-left",
	"border-color", "border-style", "border-width", "border-radius",
	"border-top-color", "border-right-color", "border-bottom-color", "border-left-color",
	"border-top-style", "border-right-style", "border-bottom-style", "border-left-style",
	"border-top-width", "border-right-width", "border-bottom-width", "border-left-width",
	"border-top-left-radius", "border-top-right-radius", "border-bottom-left-radius", "border-bottom-right-radius",
	"border-collapse", "border-spacing", "table-layout", "caption-side", "empty-cells",
	"width", "height", "min-width", "min-height", "max-width", "max-height",
	"display", "float", "clear", "overflow", "overflow-x", "overflow-y", "visibility",
	"list-style-type", "list-style-position",
}

// unsafeCSS finds what may load something or run something in a CSS
// value, whatever the property: url(), image-set(), expression(),
// escapes that hide those, at-rules, and behaviours of old browsers.
var unsafeCSS = regexp.MustCompile(`(?i)url|image|expression|javascript|vbscript|behavio|binding|@|\\|/\*|<|>|&#|import|attr\(|var\(|env\(|element\(`)

func safeCSS(v string) bool { return len(v) <= 512 && !unsafeCSS.MatchString(v) }

func newMailPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
		"center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em",
		"figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
		"mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub",
		"summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr")
	p.AllowAttrs("dir").Matching(dirValue).Globally()
	p.AllowAttrs("lang").Matching(langValue).Globally()
	p.AllowAttrs("title").Matching(plainText).Globally()
	p.AllowAttrs("class").Matching(classValue).Globally()
	p.AllowAttrs("align", "valign").Matching(alignValue).Globally()
	p.AllowAttrs("width", "height").Matching(lengthValue).OnElements("img", "table", "td", "th", "tr", "col", "colgroup", "hr", "div", "p")
	p.AllowAttrs("bgcolor", "color").Matching(colorValue).OnElements("table", "td", "th", "tr", "tbody", "thead", "tfoot", "font", "div", "p", "span", "hr")
	p.AllowAttrs("border", "cellpadding", "cellspacing").Matching(lengthValue).OnElements("table", "img")
	p.AllowAttrs("colspan", "rowspan", "span").Matching(spanValue).OnElements("td", "th", "col", "colgroup")
	p.AllowAttrs("nowrap").Matching(regexp.MustCompile(`^(?i)(nowrap)?$`)).OnElements("td", "th")
	p.AllowAttrs("face").Matching(fontFace).OnElements("font")
	p.AllowAttrs("size").Matching(fontSize).OnElements("font")
	p.AllowAttrs("start").Matching(spanValue).OnElements("ol")
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^[1aAiI]$|^(?i)(disc|circle|square)$`)).OnElements("ol", "ul", "li")
	p.AllowAttrs("alt").Matching(plainText).OnElements("img")
	p.AllowAttrs("datetime").Matching(plainText).OnElements("time", "del", "ins")
	p.AllowAttrs("open").Matching(regexp.MustCompile(`^(?i)(open)?$`)).OnElements("details")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("src").OnElements("img")
	for _, prop := range cssProperties {
		check := bmcss.GetDefaultHandler(prop) // refuses every value of a property it does not know
		p.AllowStyles(prop).MatchingHandler(func(v string) bool { return safeCSS(v) && check(v) }).Globally()
	}
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowURLSchemeWithCustomPolicy("cid", func(u *url.URL) bool { return u.Opaque != "" })
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AddSpaceWhenStrippingTag(true)
	// Never rendered, and their text is no message text.
	// Void elements (embed, frame) are not in the list: their end tag
	// never comes, and the rest of the message would go with them.
	p.SkipElementsContent("template", "svg", "math", "select", "textarea", "option", "applet",
		"canvas", "audio", "video", "map", "datalist", "frameset", "iframe",
		"noembed", "noframes", "noscript", "object", "script", "style", "title", "xmp", "plaintext")
	p.AllowElementsContent("frame") // bluemonday skips it by default
	return p
}

// remoteRef matches a URL that leaves the machine: a scheme of the
// network, or a scheme-relative one.
var remoteRef = regexp.MustCompile(`(?i)^\s*(https?:|ftp:|//|\\\\)`)

// httpURL is an http or https URL, what an img src may keep.
var httpURL = regexp.MustCompile(`(?i)^\s*https?:`)

// cssRemote finds url(...) (however its name is escaped) and @import in
// CSS text (attribute or style sheet) that name a remote resource.
var cssRemote = regexp.MustCompile(`(?i)(\(\s*['"]?\s*(https?:|//)|@import\s+['"]?\s*(https?:|//))`)

// remoteAttrs are the attributes whose value is fetched by a browser.
var remoteAttrs = map[string]bool{"src": true, "background": true, "poster": true, "data": true, "lowsrc": true,
	"dynsrc": true, "codebase": true, "cite": false, "action": true, "formaction": true, "xlink:href": true, "profile": true}

// Bounds of style attributes: bluemonday's CSS parser takes time in the
// square of an attribute's length, so longer ones, and any past the
// total, are dropped before it sees them.
const (
	maxStyleAttr  = 4 << 10
	maxStyleAttrs = 256 << 10
)

// surveyed is what survey finds.
type surveyed struct {
	// remote counts the remote references the sanitiser removes whatever
	// the options (an img src of http(s) is rewriteImages's to count).
	remote int
	// sheets are the texts of the style elements, maxStyleSheet at most.
	sheets []string
	// html is the input less its oversized style attributes.
	html string
}

// survey reads the message once before bluemonday does: what a browser
// would fetch by itself, the style sheets, and the style attributes too
// long to give bluemonday.
func survey(in string) surveyed {
	var sv surveyed
	var out strings.Builder
	out.Grow(len(in))
	z := html.NewTokenizer(strings.NewReader(in))
	inStyle, sheetBytes, styleBytes := false, 0, 0
	var raw []byte
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			sv.html = out.String()
			return sv
		}
		raw = append(raw[:0], z.Raw()...)
		switch tt {
		case html.TextToken:
			if inStyle {
				text := z.Text()
				sv.remote += len(cssRemote.FindAllIndex(text, -1))
				if sheetBytes+len(text) <= maxStyleSheet {
					sv.sheets = append(sv.sheets, string(text))
					sheetBytes += len(text)
				}
			}
		case html.EndTagToken:
			inStyle = false
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			inStyle = t.Data == "style"
			kept := t.Attr[:0]
			for _, a := range t.Attr {
				sv.remote += remoteRefs(t.Data, a)
				if a.Key == "style" {
					if len(a.Val) > maxStyleAttr || styleBytes+len(a.Val) > maxStyleAttrs {
						continue
					}
					styleBytes += len(a.Val)
				}
				kept = append(kept, a)
			}
			if len(kept) != len(t.Attr) {
				t.Attr = kept
				out.WriteString(t.String())
				continue
			}
		}
		out.Write(raw)
	}
}

// remoteRefs counts the remote references of one attribute of element
// tag that the sanitiser removes whatever the options.
func remoteRefs(tag string, a html.Attribute) int {
	switch key := strings.ToLower(a.Key); {
	case key == "src" && tag == "img":
		if remoteRef.MatchString(a.Val) && !httpURL.MatchString(a.Val) {
			return 1
		}
	case key == "srcset":
		n := 0
		for _, candidate := range strings.Split(a.Val, ",") {
			if remoteRef.MatchString(candidate) {
				n++
			}
		}
		return n
	case key == "style":
		return len(cssRemote.FindAllStringIndex(a.Val, -1))
	case key == "href" && (tag == "link" || tag == "image" || tag == "use"):
		if remoteRef.MatchString(a.Val) {
			return 1
		}
	case remoteAttrs[key]:
		if remoteRef.MatchString(a.Val) {
			return 1
		}
	}
	return 0
}

// rewriteImages decides every img src of the sanitised HTML: cid: to the
// part's data: URI, http(s) kept only when remote content is allowed. It
// returns the HTML and how many remote images it removed.
func rewriteImages(clean string, o SanitizeOptions) (string, int) {
	if !strings.Contains(clean, "<img") {
		return clean, 0
	}
	var out bytes.Buffer
	out.Grow(len(clean))
	z := html.NewTokenizer(strings.NewReader(clean))
	removed := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				return "", removed // cannot happen on a string; refuse rather than guess
			}
			return out.String(), removed
		}
		t := z.Token()
		if (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && t.Data == "img" {
			attrs := t.Attr[:0]
			for _, a := range t.Attr {
				if a.Key == "src" {
					src, gone := imageSource(a.Val, o)
					if gone {
						removed++
					}
					if src == "" {
						continue
					}
					a.Val = src
				}
				attrs = append(attrs, a)
			}
			t.Attr = attrs
		}
		out.WriteString(t.String())
	}
}

// imageSource is what an img src becomes ("" drops it); gone says a
// remote image was blocked.
func imageSource(src string, o SanitizeOptions) (string, bool) {
	lower := strings.ToLower(strings.TrimSpace(src))
	switch {
	case strings.HasPrefix(lower, "cid:"):
		if o.Inline == nil {
			return "", false
		}
		cid, err := url.PathUnescape(strings.TrimSpace(src)[4:])
		if err != nil {
			return "", false
		}
		return o.Inline(cid), false
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		if o.AllowRemote {
			return src, false
		}
		return "", true
	}
	return "", false
}
