package adminapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"postern/internal/admin"
)

type importErrorJSON struct {
	Line    int    `json:"line"`
	Address string `json:"address"`
	Message string `json:"message"`
}

type importJSON struct {
	Created []string          `json:"created"`
	Errors  []importErrorJSON `json:"errors"`
	DryRun  bool              `json:"dry_run,omitempty"`
}

// unprocessable is an answer with status 422 (some rows refused).
type unprocessable struct{ v any }

// importAccounts creates the accounts of a CSV body (admin.ParseAccountCSV),
// all or none; ?dry_run=1 only checks. A domain administrator's rows of
// other domains are refused like any invalid row.
func (a *api) importAccounts(c *call) (any, error) {
	// text/csv cannot be sent cross-site without a CORS preflight, which
	// this listener never grants.
	if mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type")); err != nil || mt != "text/csv" {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Kind: "invalid",
			Msg: "request body must be text/csv (Content-Type: text/csv)"}
	}
	data, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, admin.MaxImportBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Kind: "invalid",
			Msg: fmt.Sprintf("the file is larger than %d bytes; split it", admin.MaxImportBytes)}
	}
	if err != nil {
		return nil, badRequest("reading the request body: %v", err)
	}
	dry := c.r.URL.Query().Get("dry_run")
	opts := admin.ImportOptions{DryRun: dry == "1" || dry == "true", Scope: c.admin.CheckAddressScope}
	res, err := a.svc.ImportAccounts(c.ctx, data, opts)
	if err != nil {
		return nil, err
	}
	out := importJSON{Created: res.Created, Errors: make([]importErrorJSON, len(res.Errors)), DryRun: res.DryRun}
	for i, e := range res.Errors {
		out.Errors[i] = importErrorJSON{Line: e.Line, Address: e.Address, Message: e.Message}
	}
	if len(out.Errors) > 0 {
		return unprocessable{out}, nil
	}
	return out, nil
}
