package webmail

// Settings that are not JMAP: the account's password and app passwords,
// changed through internal/admin (its rules), with the account itself as
// the actor.

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
	"postern/internal/jmap"
)

// adminFailed answers an admin error: the person's mistake in words with
// a 4xx, anything else as a failure of ours.
func (h *Handler) adminFailed(w http.ResponseWriter, s session, err error) {
	var ae *admin.Error
	if errors.As(err, &ae) {
		status := http.StatusBadRequest
		switch ae.Kind {
		case admin.KindNotFound:
			status = http.StatusNotFound
		case admin.KindExists, admin.KindConflict:
			status = http.StatusConflict
		}
		jsonError(w, status, ae.Msg)
		return
	}
	h.log.Error("webmail: settings", "account", s.acct.Address, "err", err)
	jsonError(w, http.StatusServiceUnavailable, "try again later")
}

// changePassword checks the current password (through the login
// throttle), sets the new one, and starts a new session: the store drops
// every token of the account with the old password, this one included.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, s session) {
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if _, err := h.tokens.CheckPassword(r, s.acct.Address, body.Current); err != nil {
		var te *jmap.ThrottledError
		switch {
		case errors.As(err, &te):
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((te.RetryAfter+time.Second-1)/time.Second))))
			jsonError(w, http.StatusTooManyRequests, "too many failed logins, try again later")
		case errors.Is(err, jmap.ErrUnauthenticated):
			jsonError(w, http.StatusForbidden, "the current password is wrong")
		default:
			h.storeFailed(w, s, err)
		}
		return
	}
	if _, _, err := h.admin.SetPassword(actor(r.Context(), r, s), s.acct.Address, admin.NewPassword{Given: body.New}); err != nil {
		h.adminFailed(w, s, err)
		return
	}
	tok, _, acct, err := h.tokens.Login(r.WithContext(auth.WithProtocol(r.Context(), "webmail")), s.acct.Address, body.New)
	if err != nil {
		// The password is changed; only the new session failed.
		h.setCookie(w, "")
		jsonError(w, http.StatusUnauthorized, "password changed; log in again")
		return
	}
	h.setCookie(w, tok)
	writeJSON(w, http.StatusOK, h.info(r, tok, acct))
}

type appPasswordView struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"lastUsed"`
	Password string     `json:"password,omitempty"`
}

// An app password's id is its name: names are unique in an account.
func viewAppPassword(p admin.AppPassword) appPasswordView {
	v := appPasswordView{ID: p.Name, Name: p.Name, Created: p.CreatedAt.UTC()}
	if !p.LastUsed.IsZero() {
		used := p.LastUsed.UTC()
		v.LastUsed = &used
	}
	return v
}

func (h *Handler) listAppPasswords(w http.ResponseWriter, r *http.Request, s session) {
	list, err := h.admin.AppPasswords(r.Context(), s.acct.Address)
	if err != nil {
		h.adminFailed(w, s, err)
		return
	}
	out := make([]appPasswordView, 0, len(list))
	for _, p := range list {
		out = append(out, viewAppPassword(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) addAppPassword(w http.ResponseWriter, r *http.Request, s session) {
	var body struct {
		Name string `json:"name"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	p, secret, err := h.admin.AddAppPassword(actor(r.Context(), r, s), s.acct.Address, body.Name)
	if err != nil {
		h.adminFailed(w, s, err)
		return
	}
	v := viewAppPassword(p)
	v.Password = secret
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) deleteAppPassword(w http.ResponseWriter, r *http.Request, s session) {
	if err := h.admin.DeleteAppPassword(actor(r.Context(), r, s), s.acct.Address, r.PathValue("id")); err != nil {
		h.adminFailed(w, s, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
