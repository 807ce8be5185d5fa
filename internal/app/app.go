// Package app is the composition root: it opens the store, builds auth,
// delivery and every protocol server from the config, starts the listeners,
// reloads on SIGHUP and shuts down gracefully. It is the only package that
// imports every server; nothing here is global, so two instances can run in
// one process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
	"postern/internal/authcheck"
	"postern/internal/autoconfig"
	"postern/internal/blob"
	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/deliverylog"
	"postern/internal/dkim"
	"postern/internal/dmarcrpt"
	"postern/internal/health"
	"postern/internal/imapd"
	"postern/internal/jmapmail"
	"postern/internal/jmapsubmit"
	"postern/internal/managesieve"
	"postern/internal/metrics"
	"postern/internal/msgmeta"
	"postern/internal/netlimit"
	"postern/internal/pop3d"
	"postern/internal/queue"
	"postern/internal/sieve"
	"postern/internal/sievefilter"
	"postern/internal/smtpd"
	"postern/internal/store"
	"postern/internal/store/sqlstore"
	"postern/internal/tlsrpt"
	"postern/internal/web"
	"postern/internal/webmail"
)

// webmailCSRFSecret names the key of the webmail's CSRF tokens among the
// store's server secrets: made at first start, the same for every
// process on the database.
const webmailCSRFSecret = "webmail-csrf"

// Backend is the storage the servers share: the database and the bodies.
type Backend struct {
	Store *sqlstore.Store
	Blobs *blob.Store
}

// OpenBackend opens (creating if needed) the database and the blob store
// named by the config.
func OpenBackend(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Backend, error) {
	blobs, err := blob.Open(cfg.BlobDir())
	if err != nil {
		return nil, fmt.Errorf("opening blob store: %w", err)
	}
	st, err := sqlstore.Open(ctx, sqlstore.Options{Path: cfg.DatabasePath(), Blobs: blobs, Notifier: store.NewHub(), Logger: logger})
	if err != nil {
		blobs.Close()
		return nil, fmt.Errorf("opening database %s: %w", cfg.DatabasePath(), err)
	}
	return &Backend{Store: st, Blobs: blobs}, nil
}

// Close closes the database, then the blob store.
func (b *Backend) Close() error {
	err := b.Store.Close()
	if berr := b.Blobs.Close(); err == nil {
		err = berr
	}
	return err
}

// ParseMessage is the delivery-time parser (msgmeta.Parse), named here
// for the callers that build servers from the app.
var ParseMessage = msgmeta.Parse

// service is what every protocol server offers the app.
type service interface {
	Serve(l net.Listener, implicitTLS bool) error
	Shutdown(ctx context.Context) error
}

type listener struct {
	name        string
	addr        string
	implicitTLS bool
	svc         service
	ln          net.Listener
	// perIP and total, when set, cap connections per client IP and in all
	// here, answering the excess with refusal (for servers that do not
	// limit on their own).
	perIP, total int
	refusal      string
	// unix is the control socket: a path, not a host and port; failing to
	// open it costs the CLI's view of the server, not the mail service.
	unix bool
}

// imapRefusal is sent before the TLS handshake on imaps too: a client that
// cannot read it just sees the connection close.
const imapRefusal = "* BYE Too many connections, try again later\r\n"

// The other protocols' refusals, and ManageSieve's total cap (a handful of
// connections per user at most, while they edit scripts).
const (
	pop3Refusal         = "-ERR [SYS/TEMP] Too many connections, try again later\r\n"
	manageSieveRefusal  = "BYE (TRYLATER) \"Too many connections, try again later\"\r\n"
	maxManageSieveConns = 500
)

// App is a running server.
type App struct {
	cfg      *config.Config
	logger   *slog.Logger
	level    *slog.LevelVar
	backend  *Backend
	certs    certHolder
	services []service
	lns      []*listener
	queue    *queue.Queue
	pipeline *deliver.Pipeline
	dlog     *deliverylog.Log
	// tlsReports sends the daily TLS-RPT reports; nil when off.
	tlsReports *tlsrpt.Sender
	// dmarcReports sends the daily DMARC aggregate reports; nil when off.
	dmarcReports *dmarcrpt.Sender
	metrics      *metrics.Metrics
	tally        *authcheck.Tally
	// logins keeps the last login per account and protocol.
	logins *auth.LoginRecorder

	// What SIGHUP can replace on port 25: the sections as last applied,
	// and what building them again needs.
	inbound   inboundSections
	mx        *smtpd.Server
	isLocal   func(context.Context, string) (bool, error)
	onVerdict func(authcheck.Action)
}

// inboundSections are the parts of the config port 25's checks are built
// from.
type inboundSections struct {
	checks   config.Checks
	antispam config.Antispam
	dns      config.DNS
}

func inboundOf(cfg *config.Config) inboundSections {
	return inboundSections{checks: cfg.Checks, antispam: cfg.Antispam, dns: cfg.DNS}
}

// New builds every server the config enables; Run starts them.
func New(cfg *config.Config, backend *Backend, logger *slog.Logger, level *slog.LevelVar) (*App, error) {
	a := &App{cfg: cfg, logger: logger, level: level, backend: backend}
	if err := a.certs.load(cfg.Path(cfg.TLS.Cert), cfg.Path(cfg.TLS.Key)); err != nil {
		return nil, err
	}
	tlsCfg := a.certs.tlsConfig()
	st := backend.Store
	a.metrics = metrics.New(st)
	st.SetObserver(a.metrics)
	a.logins = auth.NewLoginRecorder(st, time.Minute, logger.With("component", "auth"))
	authSvc := auth.New(st, auth.Options{OnFailure: a.metrics.AuthFailure, OnLogin: a.logins.Record,
		MaxFailuresPerIP:      cfg.Auth.MaxFailuresPerIP,
		MaxFailuresPerAccount: cfg.Auth.MaxFailuresPerAccount,
		Window:                cfg.Auth.FailureWindow.Duration,
	}, logger)
	srsKey, err := srsSecret(cfg.DataPath(cfg.Sieve.SRSSecretFile))
	if err != nil {
		return nil, err
	}
	sieveOpts := sieve.Options{MaxRedirects: cfg.Sieve.MaxRedirects, MaxActions: cfg.Sieve.MaxActions}
	filter := sievefilter.New(sievefilter.Options{Store: st, Logger: logger.With("component", "sieve"),
		Sieve: sieveOpts, Hostname: cfg.Hostname})
	a.dlog = deliverylog.New(st, deliverylog.Options{Retention: cfg.Log.DeliveryRetention.Duration, Logger: logger.With("component", "deliverylog")})
	a.tally = authcheck.NewTally()
	a.isLocal = newLocalDomains(func(ctx context.Context, d string) (bool, error) { return a.pipeline.IsLocalDomain(ctx, d) }).isLocal
	a.onVerdict = newVerdictCounter(a.metrics.Registry())
	a.inbound = inboundOf(cfg)
	checks := newChecker(cfg, a.isLocal, a.onVerdict)
	a.pipeline = deliver.New(deliver.Options{Directory: st, Mailstore: st, Parse: ParseMessage, Filter: reportFilter(filter, st, logger),
		SRSSecret: srsKey, Logger: logger.With("component", "deliver"), Log: a.dlog,
		Checks: checks, AuthservID: cfg.Hostname, Counts: a.tally, Sealer: dkim.NewSigner(st)})
	a.queue = newQueue(cfg, backend, a.pipeline, logger)
	a.pipeline.SetQueue(a.queue)
	a.tlsReports = newTLSReports(cfg, st, dkim.NewSigner(st), a.pipeline, logger)
	a.dmarcReports = newDMARCReports(cfg, st, dkim.NewSigner(st), a.pipeline, a.tally, logger)
	allowPlain := a.allowPlaintext

	gate := newGate(cfg, st, a.metrics, logger)
	smtpCfg := func(mode smtpd.Mode) smtpd.Config {
		c := smtpd.Config{
			Hostname: cfg.Hostname, Mode: mode, TLS: tlsCfg, AllowPlaintext: allowPlain,
			MaxMessageBytes: cfg.SMTP.MaxMessageBytes, MaxRecipients: cfg.SMTP.MaxRecipients,
			MaxLineLength: cfg.SMTP.MaxLineLength, MaxHeaderBytes: cfg.SMTP.MaxHeaderBytes,
			IdleTimeout: cfg.SMTP.IdleTimeout.Duration, MaxConnsPerIP: cfg.SMTP.MaxConnectionsPerIP,
			MaxConns: cfg.SMTP.MaxConnections, ShutdownGrace: cfg.SMTP.ShutdownGrace.Duration,
			Pipeline: a.pipeline, Auth: authSvc, Logger: logger.With("svc", mode.String()),
			SCRAM: authSvc, Signer: dkim.NewSigner(st),
		}
		if mode == smtpd.ModeMX {
			c.Gate = gate
		}
		return c
	}
	mx := smtpd.New(smtpCfg(smtpd.ModeMX))
	a.mx = mx
	sub := smtpd.New(smtpCfg(smtpd.ModeSubmission))
	pop := pop3d.New(pop3d.Config{
		Hostname: cfg.Hostname, TLS: tlsCfg, AllowPlaintext: allowPlain, Auth: authSvc,
		Store: st, Logger: logger.With("svc", "pop3"), IdleTimeout: cfg.POP3.IdleTimeout.Duration,
		MaxConnsPerIP: cfg.POP3.MaxConnectionsPerIP,
	})
	imp := imapd.New(imapd.Config{
		Hostname: cfg.Hostname, TLS: tlsCfg, AllowPlaintext: allowPlain, Auth: authSvc,
		Store: st, Parse: ParseMessage,
		Logger: logger.With("svc", "imap"), AppendLimit: cfg.IMAP.AppendLimit,
		IdleTimeout: cfg.IMAP.IdleTimeout.Duration,
	})
	sieveSrv := managesieve.New(managesieve.Config{
		Hostname: cfg.Hostname, TLS: tlsCfg, AllowPlaintext: allowPlain, Auth: authSvc, SCRAM: authSvc,
		Scripts:    sieveScripts{svc: admin.New(st, logger.With("component", "admin"), admin.Options{Hostname: cfg.Hostname}), dir: st, filter: filter},
		Extensions: strings.Join(sieve.Extensions(), " "), MaxRedirects: sieveOpts.MaxRedirects,
		MaxScriptSize: admin.MaxSieveScriptSize, Logger: logger.With("svc", "managesieve"),
	})
	uploads := jmapmail.NewBlobs(st)
	jmapSieve := newJMAPSieve(st, filter, sieveOpts.MaxRedirects, uploads, cfg.Hostname, logger)
	csrfKey, err := st.ServerSecret(context.Background(), webmailCSRFSecret, 32)
	if err != nil {
		return nil, fmt.Errorf("webmail CSRF key: %w", err)
	}
	jmapSrv, tokens := newJMAP(st, authSvc, jmapSieve.Blobs(uploads), csrfKey, logger.With("svc", "jmap"))
	jmapmail.Register(jmapSrv, st, jmapmail.Options{Parse: ParseMessage, Logger: logger.With("svc", "jmap")})
	jmapsubmit.Register(jmapSrv, st, jmapsubmit.Options{Pipeline: a.pipeline, Signer: dkim.NewSigner(st), Hostname: cfg.Hostname,
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes, MaxRecipients: cfg.SMTP.MaxRecipients,
		Extensions: sub.EnvelopeExtensions(), Logger: logger.With("svc", "jmap")})
	jmapSieve.Register(jmapSrv)
	ac := autoconfig.New(autoconfig.Options{Current: a.autoconfigSettings, IsLocalDomain: a.pipeline.IsLocalDomain})
	webmailH, err := webmail.New(webmail.Options{Tokens: tokens, Store: st, Logger: logger.With("svc", "webmail"),
		Admin:        admin.New(st, logger.With("component", "admin"), admin.Options{Hostname: cfg.Hostname}),
		MobileConfig: ac.MobileConfigHandler})
	if err != nil {
		return nil, err
	}
	webSrv := web.New(web.Options{JMAP: jmapSrv, Webmail: webmailH, Streams: jmapSrv, Logger: logger.With("svc", "http"),
		Autoconfig: ac.Handler(), Healthz: health.Healthz(), Readyz: health.Readyz(a.readyChecks())})
	adminSrv := newAdminAPI(cfg, st, authSvc, tlsCfg, logger, a.AdminOps(Version), webmailH.Assets())
	control := newControl(admin.New(st, logger.With("component", "admin"), admin.Options{Hostname: cfg.Hostname}), authSvc, logger.With("svc", "control"))
	a.services = []service{mx, sub, pop, imp, sieveSrv, webSrv, adminSrv, control}
	l := cfg.Listen
	for _, ls := range []listener{
		{name: "smtp", addr: l.SMTP, svc: mx},
		{name: "submission", addr: l.Submission, svc: sub},
		{name: "submissions", addr: l.Submissions, svc: sub, implicitTLS: true},
		{name: "imap", addr: l.IMAP, svc: imp, perIP: cfg.IMAP.MaxConnectionsPerIP, total: cfg.IMAP.MaxConnections, refusal: imapRefusal},
		{name: "imaps", addr: l.IMAPS, svc: imp, implicitTLS: true, perIP: cfg.IMAP.MaxConnectionsPerIP, total: cfg.IMAP.MaxConnections, refusal: imapRefusal},
		{name: "pop3", addr: l.POP3, svc: pop, total: cfg.POP3.MaxConnections, refusal: pop3Refusal},
		{name: "pop3s", addr: l.POP3S, svc: pop, implicitTLS: true, total: cfg.POP3.MaxConnections, refusal: pop3Refusal},
		{name: "managesieve", addr: l.ManageSieve, svc: sieveSrv, total: maxManageSieveConns, refusal: manageSieveRefusal},
		{name: "http", addr: l.HTTP, svc: webSrv},
		{name: "admin", addr: l.Admin, svc: adminSrv, implicitTLS: !config.IsLoopback(l.Admin)},
		{name: "control", addr: cfg.DataPath(ControlSocket), svc: control, unix: true},
	} {
		if ls.addr != "" {
			a.lns = append(a.lns, &ls)
		}
	}
	return a, nil
}

// allowPlaintext is the dev setting: passwords without TLS from loopback.
func (a *App) allowPlaintext(remote net.Addr) bool {
	if !a.cfg.Auth.AllowPlaintextLoopback {
		return false
	}
	ap, err := netip.ParseAddrPort(remote.String())
	return err == nil && ap.Addr().IsLoopback()
}

// Listen opens every configured port, so that errors (port in use) surface
// before anything is served.
func (a *App) Listen() error {
	for _, l := range a.lns {
		if l.unix {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			a.closeListeners()
			return fmt.Errorf("listen.%s: %w", l.name, err)
		}
		ln = a.metrics.Listener(ln, l.name)
		if l.perIP > 0 || l.total > 0 {
			ln = &netlimit.Listener{Listener: ln, PerIP: l.perIP, Total: l.total, Refusal: l.refusal}
		}
		l.ln = ln
	}
	for i, l := range a.lns {
		if !l.unix {
			continue
		}
		ln, err := listenControl(l.addr)
		if err != nil {
			a.logger.Warn("no control socket: postern auth status and unblock cannot reach this server", "err", err)
			a.lns = slices.Delete(a.lns, i, i+1)
			break
		}
		l.ln = ln
	}
	return nil
}

func (a *App) closeListeners() {
	for _, l := range a.lns {
		if l.ln != nil {
			l.ln.Close()
		}
	}
}

// Addr returns the bound address of a listener by its config key, for tests
// that listen on port 0.
func (a *App) Addr(name string) net.Addr {
	for _, l := range a.lns {
		if l.name == name && l.ln != nil {
			return l.ln.Addr()
		}
	}
	return nil
}

// Run serves until ctx is done, then shuts every server down gracefully.
// Each value received on reload re-reads the config file.
func (a *App) Run(ctx context.Context, reload <-chan struct{}) error {
	if a.lns == nil || a.lns[0].ln == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	errc := make(chan error, len(a.lns))
	var wg sync.WaitGroup
	for _, l := range a.lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.logger.Info("listening", "listener", l.name, "addr", l.ln.Addr().String(), "tls", l.implicitTLS)
			if err := l.svc.Serve(l.ln, l.implicitTLS); err != nil {
				errc <- fmt.Errorf("%s: %w", l.name, err)
			}
		}()
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go a.sweepBlobs(sweepCtx)
	go a.backend.Store.Maintain(sweepCtx, sqlstore.MaintainOptions{})
	go a.dlog.Run(sweepCtx)
	go a.runTLSReports(sweepCtx)
	go a.runDMARCReports(sweepCtx)
	tallyCtx, stopTally := context.WithCancel(context.Background())
	tallyDone := make(chan struct{})
	go func() { flushTally(tallyCtx, a.tally, a.backend.Store, a.logger); close(tallyDone) }()
	defer func() { stopTally(); <-tallyDone }()
	stopQueue := a.runQueue()
	a.logins.Start()
	var runErr error
	failed := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			a.Reload()
		case err := <-errc:
			// One listener's failure leaves the others serving; only
			// when every one has failed is there nothing left to run.
			failed++
			runErr = err
			a.logger.Error("listener failed", "err", err, "still_serving", len(a.lns)-failed)
			if failed == len(a.lns) {
				break loop
			}
		}
	}
	a.logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.SMTP.ShutdownGrace.Duration+5*time.Second)
	defer cancel()
	var swg sync.WaitGroup
	for _, s := range a.services {
		swg.Add(1)
		go func() {
			defer swg.Done()
			if err := s.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
				a.logger.Warn("shutdown", "err", err)
			}
		}()
	}
	swg.Wait()
	a.logins.Close()
	stopQueue()
	a.closeListeners()
	wg.Wait()
	a.logger.Info("stopped")
	return runErr
}

// sweepBlobs removes, once an hour, body files that a crash left without a
// database reference (blob.Store.Sweep keeps anything younger than an hour).
func (a *App) sweepBlobs(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		st, err := a.backend.Store.SweepBlobs(ctx)
		if err != nil && ctx.Err() == nil {
			a.logger.Warn("blob sweep failed", "err", err)
		} else if err == nil {
			a.logger.Debug("blob sweep", "stats", fmt.Sprintf("%+v", st))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reload re-reads the config file: the certificate, the log level and
// port 25's checks ([checks], [antispam], with [dns] for them) change at
// once; listener and data_dir changes need a restart, which the log says.
func (a *App) Reload() {
	path := a.cfg.File()
	ncfg, err := config.Load(path)
	if err != nil {
		a.logger.Error("reload failed, keeping the running config", "err", err)
		return
	}
	if err := a.certs.load(ncfg.Path(ncfg.TLS.Cert), ncfg.Path(ncfg.TLS.Key)); err != nil {
		a.logger.Error("reload: certificate not reloaded", "err", err)
	}
	if a.level != nil {
		a.level.Set(ParseLevel(ncfg.Log.Level))
	}
	a.reloadInbound(ncfg)
	if ncfg.Listen != a.cfg.Listen || ncfg.DataDir != a.cfg.DataDir {
		a.logger.Warn("reload: listener or data_dir changes take effect after a restart")
	}
	a.logger.Info("reloaded", "config", path)
}

// reloadInbound rebuilds the inbound checks when [checks] or [dns]
// changed, and the antispam gate when [antispam] or [dns] did; the
// connections and messages already under way finish with the old ones.
func (a *App) reloadInbound(ncfg *config.Config) {
	next := inboundOf(ncfg)
	dnsChanged := !reflect.DeepEqual(next.dns, a.inbound.dns)
	if dnsChanged || !reflect.DeepEqual(next.checks, a.inbound.checks) {
		a.pipeline.SetChecks(newChecker(ncfg, a.isLocal, a.onVerdict))
		a.logger.Info("reload: inbound checks rebuilt", "enabled", ncfg.Checks.Enabled)
	}
	if dnsChanged || !reflect.DeepEqual(next.antispam, a.inbound.antispam) {
		a.mx.SetGate(newGate(ncfg, a.backend.Store, a.metrics, a.logger))
		a.logger.Info("reload: antispam gate rebuilt, its rate counts start over",
			"dnsbl", strings.Join(ncfg.Antispam.DNSBL, ","), "greylisting", ncfg.Antispam.Greylist.Enabled)
	}
	if dnsChanged {
		a.logger.Warn("reload: the new [dns] servers answer port 25's checks; outbound delivery and the reports use them after a restart")
	}
	a.inbound = next
}

// ParseLevel maps the config's log level to slog's.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
