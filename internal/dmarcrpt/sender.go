package dmarcrpt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/authcheck"
	"postern/internal/reportmail"
	"postern/internal/store"
)

// Mailer sends a report mail to rcpt through the delivery pipeline, from
// the null sender (deliver.Pipeline.Bounce: no bounce comes back).
type Mailer interface {
	Bounce(ctx context.Context, rcpt string, body []byte) (string, error)
}

// TXTResolver finds DMARC records (resolve.Resolver); a name without
// records is a *net.DNSError with IsNotFound.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Options configure a Sender.
type Options struct {
	// Organization names us in the report (our host name); Contact is the
	// report's email; From is the report mail's From.
	Organization, Contact, From string
	// Keep is how many days of counts are kept (14 by default); CatchUp
	// how many past days the daily run reports when they are still due
	// (after a stop; 3 by default).
	Keep, CatchUp int
	// Sign returns the report mail with its DKIM signature on top; nil
	// sends it unsigned.
	Sign func(ctx context.Context, msg []byte) []byte
	// Flush writes the counts still in memory before a report is built;
	// nil when there are none.
	Flush func(ctx context.Context)
}

// Sender sends the daily reports.
type Sender struct {
	st   store.DMARCCounts
	r    TXTResolver
	mail Mailer
	opts Options
	now  func() time.Time
	log  *slog.Logger
}

// NewSender returns a sender; now nil for time.Now.
func NewSender(st store.DMARCCounts, r TXTResolver, mail Mailer, opts Options, logger *slog.Logger, now func() time.Time) *Sender {
	if opts.Keep <= 0 {
		opts.Keep = 14
	}
	if opts.CatchUp <= 0 {
		opts.CatchUp = 3
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{st: st, r: r, mail: mail, opts: opts, now: now, log: logger.With("component", "dmarc-reports")}
}

// Sent is one report that went out.
type Sent struct {
	Domain   string   `json:"domain"`
	Day      string   `json:"day"`
	ReportID string   `json:"report_id"`
	Rows     int      `json:"rows"`
	Messages int64    `json:"messages"`
	To       []string `json:"to"`
}

// Run sends the reports of the days just ended, checking hourly, and
// forgets old counts, until ctx ends.
func (s *Sender) Run(ctx context.Context) {
	t := time.NewTimer(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.SendPending(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("DMARC reports not sent", "err", err)
		}
		if err := s.st.DeleteDMARCCountsBefore(ctx, day(s.now()).AddDate(0, 0, -s.opts.Keep)); err != nil && ctx.Err() == nil {
			s.log.Error("old DMARC counts not deleted", "err", err)
		}
		t.Reset(time.Hour)
	}
}

// SendPending sends the reports still due of the last CatchUp days
// before today (RFC 7489 §7.2: a report covers a UTC day once it ended).
func (s *Sender) SendPending(ctx context.Context) ([]Sent, error) {
	today := day(s.now())
	return s.send(ctx, today.AddDate(0, 0, -s.opts.CatchUp), today)
}

// SendDay sends the reports of one day (today's: what is counted so far;
// the rest of the day then goes unreported).
func (s *Sender) SendDay(ctx context.Context, d time.Time) ([]Sent, error) {
	d = day(d)
	return s.send(ctx, d, d.AddDate(0, 0, 1))
}

// send reports the days from since to before until.
func (s *Sender) send(ctx context.Context, since, until time.Time) ([]Sent, error) {
	if s.opts.Flush != nil {
		s.opts.Flush(ctx)
	}
	rows, err := s.st.DMARCCounts(ctx, since)
	if err != nil {
		return nil, err
	}
	doneList, err := s.st.DMARCReportsDone(ctx, since)
	if err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, d := range doneList {
		done[d.Day.Format(time.DateOnly)+" "+d.Domain] = true
	}
	byDay := map[time.Time][]store.DMARCCount{}
	var days []time.Time
	for _, r := range rows {
		if !r.Day.Before(until) {
			continue
		}
		if _, ok := byDay[r.Day]; !ok {
			days = append(days, r.Day)
		}
		byDay[r.Day] = append(byDay[r.Day], r)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	var out []Sent
	var errs []error
	for _, d := range days {
		sent, err := s.sendDay(ctx, d, byDay[d], done)
		out = append(out, sent...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// policyGroup is the rows of the author domains under one DMARC record.
type policyGroup struct {
	rec  *dmarc.Record
	rows []store.DMARCCount
}

// sendDay reports one day: its rows grouped by the record that governs
// their author domain (a subdomain's may be its organisational domain's).
func (s *Sender) sendDay(ctx context.Context, d time.Time, rows []store.DMARCCount, done map[string]bool) ([]Sent, error) {
	dayStr := d.Format(time.DateOnly)
	byFrom := map[string][]store.DMARCCount{}
	var froms []string
	for _, r := range rows {
		from := strings.ToLower(r.HeaderFrom)
		if _, ok := byFrom[from]; !ok {
			froms = append(froms, from)
		}
		byFrom[from] = append(byFrom[from], r)
	}
	groups := map[string]*policyGroup{}
	// A domain whose record could not be fetched holds back its
	// organisation's report: its rows may belong there.
	unsure := map[string]bool{}
	var errs []error
	for _, from := range froms {
		if done[dayStr+" "+from] {
			continue
		}
		rec, policyDomain, err := s.lookupPolicy(ctx, from)
		if err != nil {
			s.log.Warn("DMARC report skipped", "domain", from, "day", dayStr, "reason", "DNS failure, retried later", "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", from, err))
			unsure[authcheck.OrgDomain(from)] = true
			continue
		}
		if rec == nil {
			s.log.Info("DMARC report skipped", "domain", from, "day", dayStr, "reason", "no valid DMARC record now")
			if _, err := s.st.MarkDMARCReportDone(ctx, store.DMARCReportDone{Day: d, Domain: from}); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		g := groups[policyDomain]
		if g == nil {
			g = &policyGroup{rec: rec}
			groups[policyDomain] = g
		}
		g.rows = append(g.rows, byFrom[from]...)
	}
	domains := make([]string, 0, len(groups))
	for pd := range groups {
		if !done[dayStr+" "+pd] && !unsure[authcheck.OrgDomain(pd)] {
			domains = append(domains, pd)
		}
	}
	sort.Strings(domains)
	var out []Sent
	for _, pd := range domains {
		sent, err := s.sendReport(ctx, d, pd, groups[pd])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pd, err))
		}
		if len(sent.To) > 0 {
			out = append(out, sent)
		}
	}
	return out, errors.Join(errs...)
}

// lookupPolicy finds the record that governs domain: its own, else its
// organisational domain's (RFC 7489 §6.6.3); nil when there is none or it
// is broken. An error is a DNS failure worth a retry.
func (s *Sender) lookupPolicy(ctx context.Context, domain string) (*dmarc.Record, string, error) {
	for _, d := range []string{domain, authcheck.OrgDomain(domain)} {
		var dnsErr error
		rec, err := dmarc.LookupWithOptions(d, &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
			txts, err := s.r.LookupTXT(ctx, name)
			if err != nil && !isNotFound(err) {
				dnsErr = err
			}
			return txts, err
		}})
		switch {
		case dnsErr != nil:
			return nil, "", dnsErr
		case err == nil:
			return rec, d, nil
		case !errors.Is(err, dmarc.ErrNoPolicy):
			s.log.Info("DMARC report skipped", "domain", d, "reason", "bad DMARC record", "err", err)
			return nil, "", nil
		}
		if d == authcheck.OrgDomain(domain) {
			break
		}
	}
	return nil, "", nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// sendReport builds and mails the report of policyDomain for day d to
// each verified address of its rua tag, once.
func (s *Sender) sendReport(ctx context.Context, d time.Time, policyDomain string, g *policyGroup) (Sent, error) {
	dayStr := d.Format(time.DateOnly)
	sent := Sent{Domain: policyDomain, Day: dayStr}
	skip := func(reason string, args ...any) (Sent, error) {
		s.log.Info("DMARC report skipped", append([]any{"domain", policyDomain, "day", dayStr, "reason", reason}, args...)...)
		_, err := s.st.MarkDMARCReportDone(ctx, store.DMARCReportDone{Day: d, Domain: policyDomain})
		return sent, err
	}
	dests, ignored := ParseRUA(g.rec.ReportURIAggregate)
	for _, why := range ignored {
		s.log.Info("DMARC report address ignored", "domain", policyDomain, "day", dayStr, "uri", why)
	}
	if len(dests) == 0 {
		return skip("no rua=mailto: address")
	}
	var verified []Destination
	seen := map[string]bool{}
	for _, dest := range dests {
		ok, replaced, err := s.verifyDestination(ctx, policyDomain, dest)
		if err != nil {
			s.log.Warn("DMARC report skipped", "domain", policyDomain, "day", dayStr, "reason", "DNS failure, retried later", "to", dest.Address, "err", err)
			return sent, err
		}
		if !ok {
			s.log.Info("DMARC report address ignored", "domain", policyDomain, "day", dayStr, "to", dest.Address,
				"reason", "external destination not verified (RFC 7489 §7.1)")
			continue
		}
		for _, r := range replaced {
			if !seen[r.Address] && len(verified) < maxDestinations {
				seen[r.Address] = true
				verified = append(verified, r)
			}
		}
	}
	if len(verified) == 0 {
		return skip("no verified destination")
	}

	sent.ReportID = fmt.Sprintf("%s.%s.%s", d.Format("20060102"), policyDomain, randomHex())
	report := Build(Meta{Org: s.opts.Organization, Email: s.opts.Contact, ReportID: sent.ReportID, Day: d},
		Published(policyDomain, g.rec), g.rows)
	sent.Rows, sent.Messages = len(report.Records), report.Messages()
	doc, err := report.Marshal()
	if err != nil {
		return sent, err
	}
	gz, err := reportmail.Gzip(doc)
	if err != nil {
		return sent, err
	}
	// Marked before it goes: a report repeated is worse for its reader
	// than one lost to a crash in between.
	fresh, err := s.st.MarkDMARCReportDone(ctx, store.DMARCReportDone{Day: d, Domain: policyDomain, ReportID: sent.ReportID})
	if err != nil || !fresh {
		return sent, err
	}
	var errs []error
	for _, dest := range verified {
		msg := s.message(report, dest.Address, gz)
		if s.opts.Sign != nil {
			msg = s.opts.Sign(ctx, msg)
		}
		if dest.MaxSize > 0 && int64(len(msg)) > dest.MaxSize {
			s.log.Info("DMARC report skipped", "domain", policyDomain, "day", dayStr, "report_id", sent.ReportID, "to", dest.Address,
				"reason", fmt.Sprintf("report mail of %d bytes over the address's limit of %d", len(msg), dest.MaxSize))
			continue
		}
		if _, err := s.mail.Bounce(ctx, dest.Address, msg); err != nil {
			s.log.Warn("DMARC report not queued", "domain", policyDomain, "day", dayStr, "report_id", sent.ReportID, "to", dest.Address, "err", err)
			errs = append(errs, err)
			continue
		}
		s.log.Info("DMARC report sent", "domain", policyDomain, "day", dayStr, "report_id", sent.ReportID,
			"rows", sent.Rows, "messages", sent.Messages, "to", dest.Address)
		sent.To = append(sent.To, dest.Address)
	}
	return sent, errors.Join(errs...)
}

// verifyDestination tells whether dest may receive policyDomain's
// reports (RFC 7489 §7.1): an address in the same organisational domain
// may; another only if its domain publishes a record beginning v=DMARC1
// at <policy-domain>._report._dmarc.<its domain>. A rua tag in that
// record replaces the address with its own ones of the same domain;
// addrs is what to send to. An error is a DNS failure worth a retry.
func (s *Sender) verifyDestination(ctx context.Context, policyDomain string, dest Destination) (ok bool, addrs []Destination, err error) {
	destDomain := domainOf(dest.Address)
	if authcheck.OrgDomain(destDomain) == authcheck.OrgDomain(policyDomain) {
		return true, []Destination{dest}, nil
	}
	txts, err := s.r.LookupTXT(ctx, policyDomain+"._report._dmarc."+destDomain)
	if isNotFound(err) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	for _, t := range txts {
		tags := strings.Split(t, ";")
		if strings.ReplaceAll(tags[0], " ", "") != "v=DMARC1" {
			continue
		}
		for _, tag := range tags[1:] {
			k, v, _ := strings.Cut(tag, "=")
			if strings.TrimSpace(k) != "rua" {
				continue
			}
			// The replacement must stay with the same host, so a consent
			// record cannot send reports on to a third party.
			own, _ := ParseRUA(strings.Split(v, ","))
			for _, r := range own {
				if domainOf(r.Address) == destDomain {
					addrs = append(addrs, r)
				}
			}
		}
		if len(addrs) == 0 {
			addrs = []Destination{dest}
		}
		return true, addrs, nil
	}
	return false, nil, nil
}

func domainOf(addr string) string {
	_, domain, _ := strings.Cut(addr, "@")
	return strings.TrimSuffix(strings.ToLower(domain), ".")
}

// message is the report as a mail (RFC 7489 §7.2.1.1).
func (s *Sender) message(f Feedback, to string, gz []byte) []byte {
	return reportmail.Mail{
		FromName: "DMARC aggregate reports", From: s.opts.From, To: to,
		Subject: fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", f.Policy.Domain, f.Metadata.OrgName, f.Metadata.ReportID),
		Text: fmt.Sprintf("This is a DMARC aggregate report from %s for %s, %s to %s UTC: %d messages from %d sources.\r\n",
			f.Metadata.OrgName, f.Policy.Domain, time.Unix(f.Metadata.DateRange.Begin, 0).UTC().Format(time.DateTime),
			time.Unix(f.Metadata.DateRange.End, 0).UTC().Format(time.DateTime), f.Messages(), len(f.Records)),
		AttachmentType: "application/gzip", AttachmentName: f.FileName(), Attachment: gz,
		Date: s.now(), MessageIDHost: f.Metadata.OrgName,
	}.Bytes()
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
