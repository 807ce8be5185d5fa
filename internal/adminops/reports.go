package adminops

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"postern/internal/admin"
	"postern/internal/store"
)

// ReportsOptions build the handlers of received aggregate reports.
type ReportsOptions struct {
	Store store.Reports
	// Results are our outbound TLS results (the TLS-RPT counts).
	Results store.TLSResults
	// Who is the administrator asking (adminapi.AdministratorFrom).
	Who func(context.Context) (admin.Administrator, bool)
	// SendTLS sends the TLS-RPT reports of a day now (tlsrpt.Sender.SendDay);
	// nil when reports are off.
	SendTLS func(ctx context.Context, day time.Time) (any, error)
	// SendDMARC sends the DMARC aggregate reports still due now: of day,
	// or with a zero day of the days before today (dmarcrpt.Sender); nil
	// when reports are off.
	SendDMARC func(ctx context.Context, day time.Time) (any, error)
	Logger    *slog.Logger
}

// Reports serves the received reports.
type Reports struct{ o ReportsOptions }

// NewReports returns the handlers.
func NewReports(o ReportsOptions) *Reports {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reports{o: o}
}

// reportJSON is one report in a listing.
type reportJSON struct {
	ID       int64           `json:"id"`
	Kind     string          `json:"kind"`
	Domain   string          `json:"domain"`
	OrgName  string          `json:"org_name"`
	ReportID string          `json:"report_id"`
	Begin    time.Time       `json:"begin"`
	End      time.Time       `json:"end"`
	Received time.Time       `json:"received"`
	From     string          `json:"from"`
	Total    int64           `json:"total"`
	Failed   int64           `json:"failed"`
	Report   json.RawMessage `json:"report"`
}

// List answers GET /admin/api/reports/{tls,dmarc}?domain=&limit=: the
// newest reports first, of the domains the administrator manages.
func (h *Reports) List(kind store.ReportKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ad, ok := h.o.Who(r.Context())
		if !ok {
			writeError(w, http.StatusUnauthorized, "not logged in")
			return
		}
		var domains []string // nil: every domain
		if d := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("domain"))); d != "" {
			if ad.CheckDomainScope(d) != nil {
				writeError(w, http.StatusForbidden, "domain "+d+" is not yours to manage")
				return
			}
			domains = []string{d}
		} else if !ad.IsServer() {
			domains = append([]string{}, ad.Domains...)
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit <= 0 || limit > 500 {
			limit = 100
		}
		list, err := h.o.Store.Reports(r.Context(), kind, domains, limit)
		if err != nil {
			h.o.Logger.Error("reports not listed", "kind", kind, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		out := make([]reportJSON, 0, len(list))
		for _, rep := range list {
			out = append(out, reportJSON{ID: rep.ID, Kind: string(rep.Kind), Domain: rep.Domain, OrgName: rep.OrgName,
				ReportID: rep.ReportID, Begin: rep.Begin, End: rep.End, Received: rep.Received, From: rep.From,
				Total: rep.Total, Failed: rep.Failed, Report: json.RawMessage(rep.JSON)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"reports": out})
	})
}

// SendTLS answers POST /admin/api/reports/tls/send?day=YYYY-MM-DD (default
// yesterday): our TLS-RPT reports of that day go out now, to the domains
// that have not had theirs.
func (h *Reports) SendTLS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.SendTLS == nil {
			writeError(w, http.StatusConflict, "TLS reports are off ([outbound] tls_reports)")
			return
		}
		day := time.Now().UTC().AddDate(0, 0, -1)
		if s := r.URL.Query().Get("day"); s != "" {
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "day: want YYYY-MM-DD")
				return
			}
			day = d
		}
		sent, err := h.o.SendTLS(r.Context(), day)
		resp := map[string]any{"day": day.Format("2006-01-02"), "sent": sent}
		if err != nil {
			resp["error"] = err.Error()
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// SendDMARC answers POST /admin/api/reports/dmarc/send[?day=YYYY-MM-DD]:
// the DMARC aggregate reports still due go out now, of that day (today's
// covers what is counted so far) or else of the last days before today.
func (h *Reports) SendDMARC() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.SendDMARC == nil {
			writeError(w, http.StatusConflict, "DMARC reports are off ([checks] dmarc_reports)")
			return
		}
		var day time.Time
		if s := r.URL.Query().Get("day"); s != "" {
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "day: want YYYY-MM-DD")
				return
			}
			day = d
		}
		sent, err := h.o.SendDMARC(r.Context(), day)
		resp := map[string]any{"sent": sent}
		if !day.IsZero() {
			resp["day"] = day.Format("2006-01-02")
		}
		if err != nil {
			resp["error"] = err.Error()
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// tlsResultJSON is one count of our outbound TLS results.
type tlsResultJSON struct {
	PolicyDomain string `json:"policy_domain"`
	PolicyType   string `json:"policy_type"`
	MXHost       string `json:"mx_host"`
	ReceivingIP  string `json:"receiving_ip,omitempty"`
	Result       string `json:"result"`
	Sessions     int64  `json:"sessions"`
}

// Outbound answers GET /admin/api/reports/tls/outbound?day=YYYY-MM-DD
// (default today): our own outbound TLS results of the day, what the
// day's TLS-RPT reports will say.
func (h *Reports) Outbound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		day := time.Now().UTC().Format("2006-01-02")
		if s := r.URL.Query().Get("day"); s != "" {
			if _, err := time.Parse("2006-01-02", s); err != nil {
				writeError(w, http.StatusBadRequest, "day: want YYYY-MM-DD")
				return
			}
			day = s
		}
		rows, err := h.o.Results.TLSResults(r.Context(), day)
		if err != nil {
			h.o.Logger.Error("TLS results not listed", "day", day, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		out := make([]tlsResultJSON, 0, len(rows))
		for _, row := range rows {
			res := row.ResultType
			if res == "" {
				res = "success"
			}
			out = append(out, tlsResultJSON{PolicyDomain: row.PolicyDomain, PolicyType: row.PolicyType, MXHost: row.MXHost,
				ReceivingIP: row.ReceivingIP, Result: res, Sessions: row.Sessions})
		}
		writeJSON(w, http.StatusOK, map[string]any{"day": day, "results": out})
	})
}
