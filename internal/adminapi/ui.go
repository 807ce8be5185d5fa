package adminapi

import (
	"log/slog"
	"net/http"
	"slices"

	"postern/internal/webmail"
)

// The web admin: one page, admin.html, whose modules (admin*.js) live in
// the webmail's asset set beside the webmail's own, so both UIs share the
// style sheet, the icons and the i18n module (issue 11: one style, one
// set of assets). The page holds no data: everything it shows comes from
// /admin/api/ after login, so serving it and its files needs none.

// uiPages are the screens, /admin/<page>; a screen's item (a domain, an
// account, a queue entry, a trace) is in the query, so no page route can
// overlap the API's.
var uiPages = []string{"dashboard", "domains", "accounts", "aliases", "sieve", "queue", "log", "audit", "tokens", "logins", "login"}

// mountUI serves the page and the shared files; without files (they did
// not load, a defect of the build) the page says so.
func mountUI(mux *http.ServeMux, assets *webmail.Assets, log *slog.Logger) {
	page := func(w http.ResponseWriter, r *http.Request) {
		if p := r.PathValue("page"); p != "" && !slices.Contains(uiPages, p) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if assets == nil {
			http.Error(w, "the web admin's files did not load; see the server log", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		assets.ServePage(w, r, "admin.html", "Postern admin")
	}
	mux.HandleFunc("GET /admin/{$}", page)
	mux.HandleFunc("GET /admin/{page}", page)
	mux.HandleFunc("GET /assets/{path...}", func(w http.ResponseWriter, r *http.Request) {
		if assets == nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		assets.ServeFile(w, r)
	})
	if assets == nil {
		log.Error("web admin: no asset files; the UI is off")
	}
}
