package webmail

// The SPA's files, embedded: served at /assets/ with a version in the
// query (a hash of every file), cacheable for a year when the version is
// the current one, gzip-compressed once at start. ES module imports
// between the files ("./api.js") get the same version written in, so a
// page loads one consistent set and the browser caches all of it.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

//go:embed assets
var assetFS embed.FS

// asset is one file as served.
type asset struct {
	body, gz []byte // gz is nil when compressing does not pay
	ctype    string
}

// assetSet is every file, the version and the page templates (the
// webmail's shell, index.html, and the admin UI's, admin.html).
type assetSet struct {
	files   map[string]*asset // by path under assets/
	version string
	shell   *template.Template
	pages   map[string]*template.Template // every .html file, by name
}

// moduleImport finds the relative module specifiers of import and
// export statements and of import(): the ones that get the version.
var moduleImport = regexp.MustCompile(`((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\./[A-Za-z0-9_./-]+\.js)(["'])`)

// compressible are the types worth gzip.
var compressible = []string{".js", ".css", ".json", ".svg", ".html", ".txt"}

func loadAssets() (*assetSet, error) {
	set := &assetSet{files: map[string]*asset{}}
	sum := sha256.New()
	var names []string
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	raw := map[string][]byte{}
	for _, p := range names {
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(p, "assets/")
		raw[name] = b
		sum.Write([]byte(name))
		sum.Write([]byte{0})
		sum.Write(b)
	}
	set.version = hex.EncodeToString(sum.Sum(nil))[:16]
	set.pages = map[string]*template.Template{}
	funcs := template.FuncMap{
		"asset":   func(name string) string { return "/assets/" + name + "?v=" + set.version },
		"version": func() string { return set.version },
	}
	for name, b := range raw {
		if path.Ext(name) == ".html" {
			// Pages are templates, served at their own routes, never as files.
			tmpl, err := template.New(name).Funcs(funcs).Parse(string(b))
			if err != nil {
				return nil, err
			}
			set.pages[name] = tmpl
			continue
		}
		ext := path.Ext(name)
		if ext == ".js" {
			b = moduleImport.ReplaceAll(b, []byte("${1}${2}${3}?v="+set.version+"${4}"))
		}
		a := &asset{body: b, ctype: mime.TypeByExtension(ext)}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		if ext == ".js" {
			a.ctype = "text/javascript; charset=utf-8"
		}
		if slices.Contains(compressible, ext) {
			a.gz = gzipped(b)
		}
		set.files[name] = a
	}
	set.shell = set.pages["index.html"]
	if set.shell == nil {
		return nil, errors.New("webmail: assets/index.html is missing")
	}
	return set, nil
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(strings.ReplaceAll(q, " ", "")) != "q=0" {
			return true
		}
	}
	return false
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	h.assets.serveFile(w, r, r.PathValue("path"))
}

func (set *assetSet) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	a := set.files[name]
	if a == nil {
		jsonError(w, http.StatusNotFound, "not found")
		return
	}
	hd := w.Header()
	etag := `"` + set.version + `"`
	if r.URL.Query().Get("v") == set.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// An old or missing version: this file may not match the page
		// that asked; revalidate every time.
		hd.Set("Cache-Control", "no-cache")
	}
	hd.Set("ETag", etag)
	hd.Set("Content-Type", a.ctype)
	hd.Set("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// shellLangs are the interface's languages, the first the default.
var shellLangs = []language.Tag{language.English, language.SimplifiedChinese}
var shellMatcher = language.NewMatcher(shellLangs)

// shellLang is the page's language: the account's choice when logged
// in, else the browser's best match.
func (h *Handler) shellLang(r *http.Request) string {
	if _, acct, err := h.tokens.CheckCookie(r); err == nil {
		if p, err := h.st.WebmailPrefs(r.Context(), acct.ID); err == nil && p.Lang != "" {
			return p.Lang
		}
	}
	return browserLang(r)
}

// browserLang is the interface language that best matches the browser's
// Accept-Language, English when none does.
func browserLang(r *http.Request) string {
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, conf := shellMatcher.Match(tags...)
	if conf == language.No {
		return "en"
	}
	return [...]string{"en", "zh-CN"}[i]
}

func (h *Handler) serveShell(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	data := struct{ Lang, Title string }{Lang: h.shellLang(r), Title: "Postern"}
	if err := h.assets.shell.Execute(&buf, data); err != nil {
		h.log.Error("webmail: shell template", "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "Accept-Language, Cookie")
	w.Write(buf.Bytes())
}

// Assets is the embedded file set the webmail and the admin UI share, so
// the two UIs have one style sheet, one icon sprite and one i18n module:
// the admin listener serves the same files at the same /assets/ URLs and
// its own page, admin.html, from it.
type Assets struct{ set *assetSet }

// Assets is the handler's file set, for the admin listener to serve the
// same files.
func (h *Handler) Assets() *Assets { return &Assets{set: h.assets} }

// LoadAssets prepares the embedded files once (version hash, module
// imports versioned, gzip).
func LoadAssets() (*Assets, error) {
	set, err := loadAssets()
	if err != nil {
		return nil, err
	}
	return &Assets{set: set}, nil
}

// ServeFile answers GET /assets/{path...}: the file with its type, cached
// for a year when the request names the current version.
func (a *Assets) ServeFile(w http.ResponseWriter, r *http.Request) {
	a.set.serveFile(w, r, r.PathValue("path"))
}

// ServePage renders the page name ("admin.html") in the browser's
// language; the page's script may switch it.
func (a *Assets) ServePage(w http.ResponseWriter, r *http.Request, name, title string) {
	tmpl := a.set.pages[name]
	if tmpl == nil {
		jsonError(w, http.StatusNotFound, "not found")
		return
	}
	var buf bytes.Buffer
	data := struct{ Lang, Title string }{Lang: browserLang(r), Title: title}
	if err := tmpl.Execute(&buf, data); err != nil {
		jsonError(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "Accept-Language")
	w.Write(buf.Bytes())
}
