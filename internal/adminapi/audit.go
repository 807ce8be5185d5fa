package adminapi

import (
	"net/http"
	"strconv"
	"time"

	"postern/internal/store"
)

// Audit pages hold defaultAuditPage entries unless limit asks for fewer or
// more (the store caps it).
const defaultAuditPage = 100

type auditJSON struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Remote  string    `json:"remote,omitempty"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Details string    `json:"details,omitempty"`
}

// audit lists recorded changes, newest first. Filters: actor, action,
// target (exact), since (RFC 3339); paging: limit, and before (the "next"
// of the previous page).
func (a *api) audit(c *call) (any, error) {
	if err := c.admin.CheckServerScope("the audit log"); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Limit: defaultAuditPage}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, badRequest("since %q is not an RFC 3339 time (2006-01-02T15:04:05Z)", s)
		}
		f.Since = t
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before", &f.BeforeID}, {"limit", nil}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, badRequest("%s %q is not a positive number", p.name, s)
		}
		if p.dst != nil {
			*p.dst = n
		} else {
			f.Limit = int(min(n, 1000))
		}
	}
	list, err := a.svc.AuditLog(c.ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]auditJSON, len(list))
	for i, e := range list {
		out[i] = auditJSON(e)
	}
	res := map[string]any{"entries": out}
	if len(list) > 0 && len(list) == f.Limit {
		res["next"] = list[len(list)-1].ID
	}
	return res, nil
}

// routes registers the API.
func (a *api) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/api/login", a.login)
	mux.Handle("POST /admin/api/logout", a.logoutHandler())
	for pattern, h := range map[string]handler{
		"GET /admin/api/session":        a.session,
		"GET /admin/api/tokens":         a.listTokens,
		"POST /admin/api/tokens":        a.addToken,
		"DELETE /admin/api/tokens/{id}": a.revokeToken,

		"GET /admin/api/domains":                       a.listDomains,
		"POST /admin/api/domains":                      a.addDomain,
		"GET /admin/api/domains/{domain}":              a.getDomain,
		"DELETE /admin/api/domains/{domain}":           a.deleteDomain,
		"PUT /admin/api/domains/{domain}/catchall":     a.setCatchAll,
		"PUT /admin/api/domains/{domain}/postmaster":   a.setPostmaster,
		"GET /admin/api/domains/{domain}/dkim":         a.listDKIM,
		"POST /admin/api/domains/{domain}/dkim/rotate": a.rotateDKIM,
		"GET /admin/api/domains/{domain}/dns":          a.dnsRecords,
		"GET /admin/api/domains/{domain}/dns/check":    a.dnsCheck,
		"GET /admin/api/domains/{domain}/accounts":     a.listAccounts,
		"GET /admin/api/domains/{domain}/aliases":      a.listAliases,

		"POST /admin/api/accounts":                                  a.addAccount,
		"POST /admin/api/accounts/import":                           a.importAccounts,
		"GET /admin/api/accounts/{address}":                         a.getAccount,
		"DELETE /admin/api/accounts/{address}":                      a.deleteAccount,
		"POST /admin/api/accounts/{address}/password":               a.setPassword,
		"PUT /admin/api/accounts/{address}/quota":                   a.setQuota,
		"POST /admin/api/accounts/{address}/disable":                a.disableAccount,
		"POST /admin/api/accounts/{address}/enable":                 a.enableAccount,
		"GET /admin/api/accounts/{address}/app-passwords":           a.listAppPasswords,
		"DELETE /admin/api/accounts/{address}/app-passwords/{name}": a.revokeAppPassword,
		"GET /admin/api/accounts/{address}/sieve":                   a.listSieve,
		"POST /admin/api/accounts/{address}/sieve/deactivate":       a.deactivateSieve,
		"GET /admin/api/accounts/{address}/sieve/{name}":            a.getSieve,
		"PUT /admin/api/accounts/{address}/sieve/{name}":            a.putSieve,
		"DELETE /admin/api/accounts/{address}/sieve/{name}":         a.deleteSieve,
		"POST /admin/api/accounts/{address}/sieve/{name}/activate":  a.activateSieve,

		"GET /admin/api/auth/throttled": a.throttled,
		"POST /admin/api/auth/unblock":  a.unblock,

		"GET /admin/api/aliases":              a.listAliases,
		"POST /admin/api/aliases":             a.addAlias,
		"DELETE /admin/api/aliases/{address}": a.deleteAlias,

		"GET /admin/api/sieve/global/{which}":    a.getGlobalSieve,
		"PUT /admin/api/sieve/global/{which}":    a.putGlobalSieve,
		"DELETE /admin/api/sieve/global/{which}": a.deleteGlobalSieve,

		"GET /admin/api/audit": a.audit,
	} {
		mux.Handle(pattern, a.authed(h))
	}
}
