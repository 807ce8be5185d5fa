package webmail

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"

	"postern/internal/store"
)

// prefsLangs are the languages the interface has; "" is the browser's
// choice.
var prefsLangs = map[string]bool{"": true, "en": true, "zh-CN": true}

type prefsView struct {
	TrustedSenders []string `json:"trustedSenders"`
	Lang           string   `json:"lang"`
}

func (h *Handler) servePrefs(w http.ResponseWriter, r *http.Request, s session) {
	p, err := h.st.WebmailPrefs(r.Context(), s.acct.ID)
	if err != nil {
		h.storeFailed(w, s, err)
		return
	}
	h.writePrefs(w, p)
}

func (h *Handler) writePrefs(w http.ResponseWriter, p store.WebmailPrefs) {
	v := prefsView{TrustedSenders: p.TrustedSenders, Lang: p.Lang}
	if v.TrustedSenders == nil {
		v.TrustedSenders = []string{}
	}
	writeJSON(w, http.StatusOK, v)
}

// setPrefs makes one change per request: trust or untrust a sender, or
// set the language; it answers the preferences as they are then.
func (h *Handler) setPrefs(w http.ResponseWriter, r *http.Request, s session) {
	var body struct {
		TrustSender   *string `json:"trustSender"`
		UntrustSender *string `json:"untrustSender"`
		Lang          *string `json:"lang"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	ctx := r.Context()
	var err error
	switch {
	case body.TrustSender != nil:
		addr, ok := plainAddress(*body.TrustSender)
		if !ok {
			jsonError(w, http.StatusBadRequest, "trustSender: give an email address")
			return
		}
		err = h.st.TrustSender(ctx, s.acct.ID, addr)
	case body.UntrustSender != nil:
		err = h.st.UntrustSender(ctx, s.acct.ID, *body.UntrustSender)
	case body.Lang != nil:
		if !prefsLangs[*body.Lang] {
			jsonError(w, http.StatusBadRequest, `lang: give "en", "zh-CN" or ""`)
			return
		}
		err = h.st.SetWebmailLang(ctx, s.acct.ID, *body.Lang)
	default:
		jsonError(w, http.StatusBadRequest, "give trustSender, untrustSender or lang")
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		jsonError(w, http.StatusBadRequest, "too many trusted senders")
		return
	}
	if err != nil {
		h.storeFailed(w, s, err)
		return
	}
	h.servePrefs(w, r, s)
}

// plainAddress checks a bare address (local@domain) and lower-cases it.
func plainAddress(s string) (string, bool) {
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil || a.Name != "" || len(a.Address) > 254 || !strings.Contains(a.Address, "@") {
		return "", false
	}
	return strings.ToLower(a.Address), true
}

func (h *Handler) storeFailed(w http.ResponseWriter, s session, err error) {
	h.log.Error("webmail: store", "account", s.acct.Address, "err", err)
	jsonError(w, http.StatusServiceUnavailable, "try again later")
}
