package sieve

import (
	"bytes"
	"html"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message"
)

// body (RFC 5173).

func (r *runner) body(n *node) (bool, error) {
	if r.env.Message == nil {
		return r.match(n, nil, n.args[0])
	}
	raw, err := r.msg.loadRaw()
	if err != nil {
		return false, err
	}
	var vals []string
	switch {
	case n.has("raw"):
		// RFC 5173 §5.1: the undecoded body.
		vals = []string{string(splitBody(raw))}
	case n.has("content"):
		vals = r.msg.parts(raw, r.expandList(n.tag("content").v), false)
	default:
		vals = r.msg.parts(raw, []string{"text"}, true)
	}
	return r.match(n, vals, n.args[0])
}

// parts caches bodyParts for the run: scripts test the body often.
func (v *msgView) parts(raw []byte, types []string, asText bool) []string {
	key := strings.Join(types, "\x00")
	if asText {
		key = "\x01text"
	}
	if p, ok := v.partCache[key]; ok {
		return p
	}
	if v.partCache == nil {
		v.partCache = map[string][]string{}
	}
	p := bodyParts(raw, types, asText)
	v.partCache[key] = p
	return p
}

// maxBodyParts bounds the parts a body test walks.
const maxBodyParts = 500

// bodyParts returns the decoded contents of the leaf parts whose type
// matches one of types (RFC 5173 §5.2): "" matches every part, "text"
// every text/*, "text/plain" just that. With asText, HTML becomes text
// (RFC 5173 §5.3 :text).
func bodyParts(raw []byte, types []string, asText bool) []string {
	if body, ok := plainBody(raw); ok {
		// Most mail is one text/plain part with nothing to decode: no MIME
		// parse for it.
		if !typeMatches("text/plain", types) {
			return nil
		}
		return []string{string(body)}
	}
	ent, err := message.Read(bytes.NewReader(raw))
	if ent == nil {
		return nil
	}
	_ = err // an unknown charset or encoding leaves the body as it is
	var out []string
	parts := 0
	_ = ent.Walk(func(path []int, e *message.Entity, err error) error {
		parts++
		if parts > maxBodyParts {
			return io.EOF
		}
		if e == nil {
			return nil
		}
		typ, _, perr := e.Header.ContentType()
		if perr != nil || typ == "" {
			typ = "text/plain"
		}
		typ = strings.ToLower(typ)
		if strings.HasPrefix(typ, "multipart/") {
			return nil
		}
		if !typeMatches(typ, types) {
			return nil
		}
		b, rerr := io.ReadAll(io.LimitReader(e.Body, 10<<20))
		if rerr != nil && len(b) == 0 {
			return nil
		}
		s := string(b)
		if asText && typ == "text/html" {
			s = htmlToText(s)
		}
		out = append(out, s)
		return nil
	})
	return out
}

func typeMatches(typ string, types []string) bool {
	major, _, _ := strings.Cut(typ, "/")
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || t == typ || !strings.Contains(t, "/") && t == major {
			return true
		}
	}
	return false
}

// htmlToText drops tags, scripts and styles and decodes the common
// entities: enough to search an HTML part's words.
func htmlToText(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		lower := strings.ToLower(s[:min(len(s), 8)])
		for _, skip := range []string{"script", "style"} {
			if strings.HasPrefix(lower, "<"+skip) {
				if end := indexFold(s, "</"+skip); end >= 0 {
					s = s[end:]
				}
			}
		}
		j := strings.IndexByte(s, '>')
		if j < 0 {
			break
		}
		if blockTag(s[1:j]) {
			b.WriteByte('\n')
		}
		s = s[j+1:]
	}
	return html.UnescapeString(b.String())
}

// blockTag tells whether a tag (without its angle brackets) breaks the
// text flow.
func blockTag(t string) bool {
	t = strings.TrimPrefix(strings.ToLower(t), "/")
	if i := strings.IndexAny(t, " \t\r\n/"); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "p", "br", "div", "tr", "td", "th", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "blockquote", "pre", "body", "html", "head", "title":
		return true
	}
	return false
}

// plainBody returns the body of a message that is a single text/plain
// part in US-ASCII or UTF-8 without a transfer encoding to undo, and
// whether it is one.
func plainBody(raw []byte) ([]byte, bool) {
	body := splitBody(raw)
	if body == nil {
		return nil, false
	}
	header := raw[:len(raw)-len(body)]
	var ctype, cte string
	var last *string
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if last != nil {
				*last += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		last = nil
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "content-type":
			ctype, last = string(bytes.TrimSpace(value)), &ctype
		case "content-transfer-encoding":
			cte, last = string(bytes.TrimSpace(value)), &cte
		}
	}
	switch strings.ToLower(cte) {
	case "", "7bit", "8bit", "binary":
	default:
		return nil, false
	}
	if ctype == "" {
		return body, true
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || mt != "text/plain" {
		return nil, false
	}
	switch strings.ToLower(params["charset"]) {
	case "", "us-ascii", "utf-8", "utf8":
		return body, true
	}
	return nil, false
}
