package webmail

// A message's HTML body, sanitised, for the reader's sandboxed iframe;
// and its raw source.

import (
	"encoding/base64"
	"errors"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"

	"postern/internal/jmapmail"
	"postern/internal/store"
)

// Limits of one HTML view: the HTML read from the message, and the
// images inlined from its parts as data: URIs.
const (
	maxHTMLInput    = 8 << 20
	maxInlineImage  = 2 << 20
	maxInlineImages = 10 << 20
)

// inlineTypes are the image types inlined for cid: URLs: raster formats
// only (an SVG is a document of its own).
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/jpg": true, "image/gif": true,
	"image/webp": true, "image/bmp": true, "image/avif": true, "image/x-icon": true, "image/vnd.microsoft.icon": true}

// messageCSP is the policy of the message document: no script, no
// style sheet but the inline one we write and the message's style
// attributes, images only inlined ones unless remote content is allowed,
// nothing else at all. The document is sandboxed by the policy too, not
// only by the reader's iframe: opened on its own in a tab, it still runs
// nothing and has no origin.
func messageCSP(remote bool) string {
	img := "data:"
	if remote {
		img = "data: https: http:"
	}
	return "default-src 'none'; style-src 'unsafe-inline'; img-src " + img +
		"; font-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'" +
		"; sandbox allow-popups allow-popups-to-escape-sandbox"
}

// messageHead is the top of every message document: the referrer
// withheld from whatever it loads, links in a new tab, images fitted; the
// message's own style sheet follows.
const messageHead = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
	`<meta http-equiv="x-dns-prefetch-control" content="off">` +
	`<base target="_blank"><style>body{margin:0;padding:8px;font-family:system-ui,sans-serif;overflow-wrap:break-word}` +
	`img{max-width:100%;height:auto}pre,.postern-text{white-space:pre-wrap}</style>`

func (h *Handler) openEmail(w http.ResponseWriter, r *http.Request, s session) *jmapmail.StoredEmail {
	e, err := jmapmail.OpenEmail(r.Context(), h.st, s.acct.ID, r.PathValue("emailId"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		jsonError(w, http.StatusNotFound, "no such message")
		return nil
	case err != nil:
		h.log.Error("webmail: opening a message", "account", s.acct.Address, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "try again later")
		return nil
	}
	return e
}

func (h *Handler) serveHTML(w http.ResponseWriter, r *http.Request, s session) {
	e := h.openEmail(w, r, s)
	if e == nil {
		return
	}
	defer e.Close()
	remote := r.URL.Query().Get("remote") == "1"
	if from := e.From(); !remote && from != "" {
		trusted, err := h.st.SenderTrusted(r.Context(), s.acct.ID, from)
		if err != nil {
			h.log.Warn("webmail: reading trusted senders", "account", s.acct.Address, "err", err)
		}
		remote = trusted
	}
	in, err := htmlInput(e)
	if err != nil {
		h.log.Error("webmail: reading a message", "account", s.acct.Address, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	out := Sanitize(in, SanitizeOptions{AllowRemote: remote, Inline: newInliner(e, h.inlineEach, h.inlineTotal).dataURI})
	hd := w.Header()
	hd.Set("Content-Security-Policy", messageCSP(remote))
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("X-Postern-Blocked-Remote", strconv.Itoa(out.Blocked))
	if remote {
		hd.Set("X-Postern-Remote", "allowed")
	} else {
		hd.Set("X-Postern-Remote", "blocked")
	}
	io.WriteString(w, messageHead)
	if out.CSS != "" {
		io.WriteString(w, "<style>"+out.CSS+"</style>")
	}
	io.WriteString(w, "</head><body>")
	io.WriteString(w, out.HTML)
	io.WriteString(w, "</body></html>")
}

// htmlInput is the message's htmlBody as one HTML text: HTML parts as
// they are, text parts escaped, image parts as images of their part.
func htmlInput(e *jmapmail.StoredEmail) (string, error) {
	var b strings.Builder
	left := int64(maxHTMLInput)
	for _, p := range e.HTMLBody() {
		switch {
		case p.Type == "text/html" || p.Type == "text/plain":
			if left <= 0 {
				continue
			}
			text, _, err := e.Text(p, left)
			if err != nil {
				return "", err
			}
			left -= int64(len(text))
			if p.Type == "text/html" {
				// Each part is a document of its own: close what it left
				// open so the next one starts fresh.
				b.WriteString("<div>" + text + "</div>")
			} else {
				b.WriteString(`<div class="postern-text">` + html.EscapeString(text) + "</div>")
			}
		case strings.HasPrefix(p.Type, "image/"):
			b.WriteString(`<div><img src="cid:` + html.EscapeString(partCID(p)) + `" alt=""></div>`)
		}
	}
	return b.String(), nil
}

// partCID is the cid that names an image part of htmlBody: its
// Content-ID, else a name of our own for its part.
func partCID(p jmapmail.BodyPart) string {
	if p.CID != "" {
		return p.CID
	}
	return "postern-part-" + p.PartID
}

// inliner turns cid: references into data: URIs of the message's image
// parts, within the limits; each image is read once.
type inliner struct {
	e     *jmapmail.StoredEmail
	each  int64
	left  int64
	known map[string]string
}

func newInliner(e *jmapmail.StoredEmail, each, total int64) *inliner {
	return &inliner{e: e, each: each, left: total, known: map[string]string{}}
}

func (in *inliner) dataURI(cid string) string {
	if uri, ok := in.known[cid]; ok {
		return uri
	}
	uri := in.load(cid)
	in.known[cid] = uri
	return uri
}

func (in *inliner) load(cid string) string {
	p, ok := in.e.PartByCID(cid)
	if !ok {
		if path, own := strings.CutPrefix(cid, "postern-part-"); own {
			for _, hp := range in.e.HTMLBody() {
				if hp.PartID == path && hp.CID == "" {
					p, ok = hp, true
				}
			}
		}
	}
	if !ok || !inlineTypes[p.Type] {
		return ""
	}
	rd, err := in.e.Open(p)
	if err != nil {
		return ""
	}
	limit := min(in.each, in.left)
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil || int64(len(data)) > limit || len(data) == 0 {
		return ""
	}
	in.left -= int64(len(data))
	return "data:" + p.Type + ";base64," + base64.StdEncoding.EncodeToString(data)
}

func (h *Handler) serveRaw(w http.ResponseWriter, r *http.Request, s session) {
	e := h.openEmail(w, r, s)
	if e == nil {
		return
	}
	defer e.Close()
	rd, err := e.Raw()
	if err != nil {
		h.log.Error("webmail: reading a message", "account", s.acct.Address, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "try again later")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Disposition", "inline")
	hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'; sandbox")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	io.Copy(w, rd)
}
