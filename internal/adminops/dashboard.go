package adminops

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"time"

	"postern/internal/deliverylog"
)

// Service is one listener of the server.
type Service struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	Port int    `json:"port"`
	// Up: the listener is bound.
	Up bool `json:"up"`
}

// DashboardOptions are where the dashboard reads from.
type DashboardOptions struct {
	Version string
	// Services lists the listeners and whether they are bound.
	Services func() []Service
	// QueueCounts is the queue's size by state (sqlstore.Store.QueueCounts).
	QueueCounts func(ctx context.Context) (map[string]int64, error)
	// Log gives the hourly counts.
	Log *deliverylog.Log
	// BodyDir is the blob store's directory; DatabaseFiles the database's
	// files (the main file, its WAL, the text index).
	BodyDir       string
	DatabaseFiles []string
	// Certificates returns the loaded TLS certificate chain's leaves.
	Certificates func() []*x509.Certificate
	Logger       *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Dashboard is what the admin's first page shows.
type Dashboard struct {
	Version  string               `json:"version"`
	Services []Service            `json:"services"`
	Queue    map[string]int64     `json:"queue"`
	PerHour  []deliverylog.Hourly `json:"per_hour"`
	Disk     Disk                 `json:"disk"`
	Certs    []Cert               `json:"certificates"`
}

// Disk is the space used.
type Disk struct {
	BodiesBytes   int64 `json:"bodies_bytes"`
	DatabaseBytes int64 `json:"database_bytes"`
}

// Cert is one certificate's expiry.
type Cert struct {
	Subject  string    `json:"subject"`
	Names    []string  `json:"names"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

// dashboardHours is the chart's span.
const dashboardHours = 48

// DashboardData builds the dashboard.
type DashboardData struct {
	o      DashboardOptions
	bodies *bodyUsage
}

// NewDashboard returns the dashboard over o.
func NewDashboard(o DashboardOptions) *DashboardData {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return &DashboardData{o: o, bodies: newBodyUsage(o.BodyDir)}
}

// Build gathers every figure.
func (d *DashboardData) Build(ctx context.Context) (Dashboard, error) {
	out := Dashboard{Version: d.o.Version, Services: []Service{}, Queue: map[string]int64{}, Certs: []Cert{}}
	if d.o.Services != nil {
		out.Services = d.o.Services()
	}
	if d.o.QueueCounts != nil {
		q, err := d.o.QueueCounts(ctx)
		if err != nil {
			return out, err
		}
		out.Queue = q
	}
	if d.o.Log != nil {
		h, err := d.o.Log.PerHour(ctx, dashboardHours)
		if err != nil {
			return out, err
		}
		out.PerHour = h
	}
	out.Disk = d.diskUsage()
	now := d.o.Now()
	if d.o.Certificates != nil {
		for _, c := range d.o.Certificates() {
			out.Certs = append(out.Certs, Cert{Subject: c.Subject.String(), Names: c.DNSNames, Issuer: c.Issuer.String(),
				NotAfter: c.NotAfter.UTC(), DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)})
		}
	}
	return out, nil
}

// diskUsage is measured at every look: an administrator who opens the
// page after a delivery expects to see it counted.
func (d *DashboardData) diskUsage() Disk {
	disk := Disk{BodiesBytes: d.bodies.bytes()}
	for _, f := range d.o.DatabaseFiles {
		if fi, err := os.Stat(f); err == nil {
			disk.DatabaseBytes += fi.Size()
		}
	}
	return disk
}

// Handler answers GET with the Dashboard.
func (d *DashboardData) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		out, err := d.Build(r.Context())
		if err != nil {
			d.o.Logger.Error("dashboard", "err", err)
			writeError(w, http.StatusInternalServerError, "dashboard failed")
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}
