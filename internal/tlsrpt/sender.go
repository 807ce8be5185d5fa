package tlsrpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"postern/internal/store"
)

// Mailer sends a report mail to rcpt through the delivery pipeline, from
// the null sender (deliver.Pipeline.Bounce: no bounce comes back).
type Mailer interface {
	Bounce(ctx context.Context, rcpt string, body []byte) (string, error)
}

// TXTResolver finds _smtp._tls records.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Options configure a Sender.
type Options struct {
	// Organization names us in the report (our host name); Contact is an
	// address for questions; From is the report mail's From.
	Organization, Contact, From string
	// HTTP posts to https: addresses; nil: a client with a timeout.
	HTTP *http.Client
	// Keep is how many days of counts are kept (30 by default).
	Keep int
	// Sign returns the report mail with its DKIM signature on top (RFC 8460
	// §5.3 asks for one); nil sends it unsigned.
	Sign func(ctx context.Context, msg []byte) []byte
}

// Sender sends the daily reports.
type Sender struct {
	st   store.TLSResults
	r    TXTResolver
	mail Mailer
	opts Options
	now  func() time.Time
	log  *slog.Logger
}

// NewSender returns a sender; now nil for time.Now.
func NewSender(st store.TLSResults, r TXTResolver, mail Mailer, opts Options, logger *slog.Logger, now func() time.Time) *Sender {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Keep <= 0 {
		opts.Keep = 30
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{st: st, r: r, mail: mail, opts: opts, now: now, log: logger.With("component", "tls-rpt")}
}

// Run sends each day's reports after the day ends (RFC 8460 §4.1: a
// report covers a UTC day), checking hourly, until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTimer(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		yesterday := s.now().UTC().AddDate(0, 0, -1)
		if _, err := s.SendDay(ctx, yesterday); err != nil && ctx.Err() == nil {
			s.log.Error("TLS reports not sent", "day", yesterday.Format("2006-01-02"), "err", err)
		}
		cut := s.now().UTC().AddDate(0, 0, -s.opts.Keep).Format("2006-01-02")
		if err := s.st.DeleteTLSResultsBefore(ctx, cut); err != nil && ctx.Err() == nil {
			s.log.Error("old TLS results not deleted", "err", err)
		}
		t.Reset(time.Hour)
	}
}

// Sent is one report that went out.
type Sent struct {
	Domain string   `json:"domain"`
	To     []string `json:"to"`
}

// SendDay sends the reports of day to the domains that publish an
// address and have not had theirs. Each domain's report is tried once
// (marked before it goes): a report repeated is worse for its reader
// than one lost.
func (s *Sender) SendDay(ctx context.Context, day time.Time) ([]Sent, error) {
	dayStr := day.UTC().Format("2006-01-02")
	rows, err := s.st.TLSResults(ctx, dayStr)
	if err != nil {
		return nil, err
	}
	domains := map[string]bool{}
	for _, r := range rows {
		domains[r.PolicyDomain] = true
	}
	names := make([]string, 0, len(domains))
	for d := range domains {
		names = append(names, d)
	}
	sort.Strings(names)
	var out []Sent
	var errs []error
	for _, domain := range names {
		sent, err := s.sendDomain(ctx, day, dayStr, domain, rows)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", domain, err))
		}
		if len(sent.To) > 0 {
			out = append(out, sent)
		}
	}
	return out, errors.Join(errs...)
}

func (s *Sender) sendDomain(ctx context.Context, day time.Time, dayStr, domain string, rows []store.TLSResult) (Sent, error) {
	sent := Sent{Domain: domain}
	txts, err := s.r.LookupTXT(ctx, "_smtp._tls."+domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return sent, nil // the domain asks for no report
	}
	if err != nil {
		return sent, err
	}
	rua, err := ParseRecord(txts)
	if err != nil || len(rua) == 0 {
		return sent, err
	}
	report := Build(day, domain, s.opts.Organization, s.opts.Contact, rows)
	gz, err := Gzip(report)
	if err != nil {
		return sent, err
	}
	fresh, err := s.st.MarkTLSReportSent(ctx, dayStr, domain)
	if err != nil || !fresh {
		return sent, err
	}
	var errs []error
	for _, u := range rua {
		if err := s.deliver(ctx, report, domain, u, gz); err != nil {
			s.log.Warn("TLS report not delivered", "domain", domain, "day", dayStr, "to", u, "err", err)
			errs = append(errs, err)
			continue
		}
		s.log.Info("TLS report sent", "domain", domain, "day", dayStr, "to", u, "report_id", report.ReportID)
		sent.To = append(sent.To, u)
	}
	return sent, errors.Join(errs...)
}

func (s *Sender) deliver(ctx context.Context, r Report, domain, uri string, gz []byte) error {
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "mailto":
		to := u.Opaque
		if to == "" {
			to = u.Path
		}
		to, _, _ = strings.Cut(to, "?")
		if unesc, err := url.PathUnescape(to); err == nil {
			to = unesc
		}
		if !strings.Contains(to, "@") {
			return fmt.Errorf("bad mailto address %q", to)
		}
		msg := Message(r, domain, s.opts.From, to, gz, s.now())
		if s.opts.Sign != nil {
			msg = s.opts.Sign(ctx, msg)
		}
		_, err := s.mail.Bounce(ctx, to, msg)
		return err
	case "https":
		// RFC 8460 §5.2: POST the gzipped report.
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(gz))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/tlsrpt+gzip")
		resp, err := s.opts.HTTP.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("HTTP status %d", resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("unsupported report URI %q", uri)
}
