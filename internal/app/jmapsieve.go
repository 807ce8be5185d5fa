package app

import (
	"log/slog"

	"postern/internal/admin"
	"postern/internal/jmap"
	"postern/internal/jmapsieve"
	"postern/internal/sieve"
	"postern/internal/sievefilter"
	"postern/internal/store/sqlstore"
)

// newJMAPSieve builds the JMAP VacationResponse, SieveScript and Quota
// methods over the admin service, the same scripts and vacation the
// delivery filter runs (a change applies to the next delivery at once).
// uploads are the uploaded blobs a script can be made from; nil until the
// JMAP upload store is plugged in.
func newJMAPSieve(st *sqlstore.Store, filter *sievefilter.Filter, maxRedirects int, uploads jmap.Blobs, hostname string, logger *slog.Logger) *jmapsieve.Handler {
	o := jmapsieve.Options{
		Admin: admin.New(st, logger.With("component", "admin"), admin.Options{Hostname: hostname}),
		Store: st, Uploads: uploads,
		Changed: filter.Forget, SieveExtensions: sieve.Extensions(), MaxRedirects: maxRedirects,
		Logger: logger.With("svc", "jmap"),
	}
	return jmapsieve.New(o)
}
