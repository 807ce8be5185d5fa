package jmap

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// Session is the session resource (RFC 8620 §2).
type Session struct {
	Capabilities    map[string]any     `json:"capabilities"`
	Accounts        map[string]Account `json:"accounts"`
	PrimaryAccounts map[string]string  `json:"primaryAccounts"`
	Username        string             `json:"username"`
	APIURL          string             `json:"apiUrl"`
	DownloadURL     string             `json:"downloadUrl"`
	UploadURL       string             `json:"uploadUrl"`
	EventSourceURL  string             `json:"eventSourceUrl"`
	State           string             `json:"state"`
}

// Account is an account in the session resource.
type Account struct {
	Name                string         `json:"name"`
	IsPersonal          bool           `json:"isPersonal"`
	IsReadOnly          bool           `json:"isReadOnly"`
	AccountCapabilities map[string]any `json:"accountCapabilities"`
}

// Session builds the session resource of p; r gives the host when
// Options.BaseURL is empty.
func (s *Server) Session(ctx context.Context, r *http.Request, p Principal) (Session, error) {
	base := s.opts.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	sess := Session{
		Capabilities:    make(map[string]any, len(s.capList)),
		PrimaryAccounts: make(map[string]string),
		Username:        p.Username,
		APIURL:          base + "/jmap/api",
		DownloadURL:     base + "/jmap/download/{accountId}/{blobId}/{name}?accept={type}",
		UploadURL:       base + "/jmap/upload/{accountId}/",
		EventSourceURL:  base + "/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}",
	}
	acct := Account{Name: p.Username, IsPersonal: true, AccountCapabilities: make(map[string]any)}
	for _, uri := range s.capList {
		c := s.caps[uri]
		sess.Capabilities[uri] = orEmpty(c.Session)
		if uri == CapabilityWebSocket {
			sess.Capabilities[uri] = wsCapability{URL: wsURL(base) + "/jmap/ws", SupportsPush: s.opts.Changes != nil}
		}
		if uri == CapabilityCore || uri == CapabilityWebSocket {
			continue
		}
		var v any = struct{}{}
		if c.Account != nil {
			if v = c.Account(ctx, p); v == nil {
				continue
			}
		}
		acct.AccountCapabilities[uri] = v
		sess.PrimaryAccounts[uri] = p.AccountID
	}
	sess.Accounts = map[string]Account{p.AccountID: acct}
	b, err := json.Marshal(sess)
	if err != nil {
		return Session{}, err
	}
	sum := sha256.Sum256(b)
	sess.State = base64.RawURLEncoding.EncodeToString(sum[:12])
	return sess, nil
}

// wsURL turns an http(s) base URL into its ws(s) one.
func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	if rest, ok := strings.CutPrefix(base, "http://"); ok {
		return "ws://" + rest
	}
	return base
}

func orEmpty(v any) any {
	if v == nil {
		return struct{}{}
	}
	return v
}

func (s *Server) sessionState(ctx context.Context, r *http.Request, p Principal) (string, error) {
	sess, err := s.Session(ctx, r, p)
	return sess.State, err
}

// serveSession answers GET of the session resource, at /.well-known/jmap
// (RFC 8620 §2.2) and at /jmap/session.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	sess, err := s.Session(r.Context(), r, p)
	if err != nil {
		s.log.Error("jmap: session", "err", err)
		httpProblem(w, http.StatusInternalServerError, "")
		return
	}
	b, err := json.Marshal(sess)
	if err != nil {
		s.log.Error("jmap: session", "err", err)
		httpProblem(w, http.StatusInternalServerError, "")
		return
	}
	writeJSON(w, b)
}
