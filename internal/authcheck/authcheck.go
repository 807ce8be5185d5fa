// Package authcheck makes the verdicts on mail received on port 25: SPF
// (RFC 7208) on the envelope sender, DKIM (RFC 6376) on every signature,
// DMARC (RFC 7489) with alignment on the From domain, ARC (RFC 8617) and
// iprev (RFC 8601 §3), and writes them as one Authentication-Results
// field (RFC 8601). It decides what becomes of the message: accepted, put
// in the recipient's Junk (DMARC quarantine), refused (DMARC reject, or a
// From of one of our own domains that is not authenticated), or deferred
// (a DNS failure of a check that decides). It does no I/O but DNS, through
// the resolver it is given; the caller stores the message and the counts.
package authcheck

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dmarc"

	"postern/internal/store"
)

// Resolver is the DNS the checks ask (resolve.Resolver); its errors are
// *net.DNSError, telling not found from temporary.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Options build a Checker.
type Options struct {
	Resolver Resolver
	// Hostname is our authserv-id.
	Hostname string
	// IsLocal tells whether a domain is one of ours.
	IsLocal func(ctx context.Context, domain string) (bool, error)
	// Budget bounds the DNS time of one message (10s when 0).
	Budget time.Duration
	// MaxSignatures bounds the DKIM signatures verified (5 when 0).
	MaxSignatures int
	// VerifyEverySignature checks every DKIM signature, also those of a
	// domain another signature of which passed already (tests compare
	// each signature's verdict).
	VerifyEverySignature bool
	// Skip turns checks off: "spf", "dkim", "dmarc", "arc", "iprev".
	Skip map[string]bool
	// AcceptTempErrors delivers mail whose verdict a DNS failure left
	// open, instead of deferring it (a development server without DNS).
	AcceptTempErrors bool
	// OnVerdict, when set, is told each verdict's action (metrics).
	OnVerdict func(Action)
	// Percent draws the DMARC pct sample (rand.IntN(100) when nil).
	Percent func() int
	Now     func() time.Time
}

// Checker makes verdicts. It is safe for concurrent use.
type Checker struct {
	o Options
	// keys are the ARC signers' keys, parsed once per record.
	keys keyCache
}

// New returns a Checker.
func New(o Options) *Checker {
	if o.Budget <= 0 {
		o.Budget = 10 * time.Second
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = 5
	}
	if o.Percent == nil {
		o.Percent = func() int { return rand.IntN(100) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IsLocal == nil {
		o.IsLocal = func(context.Context, string) (bool, error) { return false, nil }
	}
	return &Checker{o: o}
}

// Input is a message as received.
type Input struct {
	IP       netip.Addr
	Helo     string
	MailFrom string // "" is the null sender
	// Message is the message as received (our Received field on top is
	// fine), Size its length.
	Message io.ReaderAt
	Size    int64
}

// Action is what becomes of a message.
type Action int

// The actions, in the order a message with several From domains takes
// the strongest.
const (
	Accept Action = iota
	Junk
	Defer
	Reject
)

func (a Action) String() string {
	return [...]string{"accept", "junk", "defer", "reject"}[a]
}

// Verdict is the outcome of the checks.
type Verdict struct {
	Action Action
	// Reason says why a message is refused, deferred or junked: for the
	// SMTP reply and the log.
	Reason string
	// Header is the Authentication-Results field, CRLF-terminated;
	// Results its value after the authserv-id (for an ARC set).
	Header, Results string
	// ARC is the validation of the chain the message came with: none,
	// pass or fail (what a seal of ours continues).
	ARC string
	// Summary is the results in one line, for the delivery log.
	Summary string
	// Counts are the DMARC evaluations to count for aggregate reports:
	// one per From domain that publishes a DMARC record.
	Counts []Count
}

// Count is one DMARC evaluation (RFC 7489 §7.2's row).
type Count struct {
	Day         time.Time // midnight UTC
	HeaderFrom  string
	SourceIP    string
	Disposition string // none, quarantine, reject
	DKIM, SPF   string // the aligned results: pass or fail
	// The raw results a report's auth_results tell (RFC 7489 Appendix C):
	// the SPF identity, its scope (mfrom or helo) and result; the DKIM
	// signatures as store.FormatDKIMResults writes them.
	SPFDomain, SPFScope, SPFResult string
	DKIMResults                    string
}

// hasARC tells whether the header has any ARC field.
func hasARC(fields []field) bool {
	for _, f := range fields {
		if len(f.name) > 4 && strings.EqualFold(f.name[:4], "ARC-") {
			return true
		}
	}
	return false
}

// Check runs the checks on a message.
func (c *Checker) Check(ctx context.Context, in Input) Verdict {
	ctx, cancel := context.WithTimeout(ctx, c.o.Budget)
	defer cancel()
	fields, headerErr := readHeader(io.NewSectionReader(in.Message, 0, in.Size))
	var res results
	var wg sync.WaitGroup
	run := func(name string, fn func()) {
		if c.o.Skip[name] {
			return
		}
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	run("spf", func() { res.spf = c.checkSPF(ctx, in) })
	if hasARC(fields) {
		run("arc", func() { res.arc = c.checkARC(ctx, in, fields) })
	} else if !c.o.Skip["arc"] {
		// Most mail has no ARC set: its result needs no lookup and is
		// not worth a goroutine.
		res.arc = c.checkARC(ctx, in, fields)
	}
	run("iprev", func() { res.iprev = c.checkIPRev(ctx, in.IP) })
	// DKIM, the heaviest, runs on the caller's goroutine, whose stack has
	// grown to it already: a fresh goroutine would grow its own each time.
	if !c.o.Skip["dkim"] {
		res.dkim = c.checkDKIM(ctx, in, fields, headerErr)
	}
	wg.Wait()

	v := Verdict{Action: Accept}
	froms := fieldsNamed(fields, "From")
	if len(froms) > 1 {
		v.Action, v.Reason = Reject, "Message has more than one From field (RFC 5322 section 3.6)"
	}
	var domains []string
	if len(froms) > 0 {
		domains = fromDomains(froms[0].value())
	}
	for _, d := range domains {
		c.judgeDomain(ctx, in, d, &res, &v)
	}
	if v.Action == Defer && c.o.AcceptTempErrors {
		v.Action = Accept
	}
	if v.Action == Defer {
		v.Counts = nil // counted when the client's retry gets a verdict
	}
	v.Results = c.formatResults(in, &res)
	v.Header = "Authentication-Results: " + c.o.Hostname + ";\r\n\t" + v.Results + "\r\n"
	v.ARC = res.arc.result
	v.Summary = res.summary()
	if c.o.OnVerdict != nil {
		c.o.OnVerdict(v.Action)
	}
	return v
}

// judgeDomain evaluates DMARC for one author domain and our own-domain
// rule, and raises the verdict's action when this domain asks more.
func (c *Checker) judgeDomain(ctx context.Context, in Input, domain string, res *results, v *Verdict) {
	dm := dmarcResult{domain: domain}
	if !c.o.Skip["dmarc"] {
		dm = c.evaluateDMARC(ctx, in, domain, res)
		if dm.record {
			v.Counts = append(v.Counts, reportCount(truncateDay(c.o.Now()), in, dm, res))
		}
	} else {
		dm.spfAligned, dm.dkimAligned, dm.tempAuth = alignment(domain, dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed, in, res)
	}
	res.dmarc = append(res.dmarc, dm)
	action, reason := dm.action()
	if !dm.spfAligned && !dm.dkimAligned {
		// Whether the domain is ours (a database read) only matters to
		// mail not authenticated for it, so authenticated mail, most of
		// it, never asks.
		local, err := c.o.IsLocal(ctx, domain)
		switch {
		case err != nil:
			action, reason = Defer, "Cannot tell whether "+domain+" is ours, try again later"
		case local && dm.tempAuth:
			action, reason = Defer, "DNS failure while authenticating "+domain+", try again later"
		case local:
			action = Reject
			reason = "Message claims to be from " + domain + ", a domain of this server, but is not authenticated " +
				"(SPF and DKIM not aligned); our users send through submission"
		}
	}
	if action > v.Action {
		v.Action, v.Reason = action, reason
	}
}

// reportCount is the evaluation of one author domain as a report row.
func reportCount(day time.Time, in Input, dm dmarcResult, res *results) Count {
	n := Count{Day: day, HeaderFrom: dm.domain, SourceIP: in.IP.String(),
		Disposition: dm.disposition, DKIM: passFail(dm.dkimAligned), SPF: passFail(dm.spfAligned),
		SPFDomain: res.spf.domain, SPFResult: res.spf.result, SPFScope: "mfrom"}
	if in.MailFrom == "" {
		n.SPFScope = "helo" // RFC 7208 §2.4: the null sender is checked by its HELO
	}
	if n.SPFResult == "" {
		n.SPFResult = "none"
	}
	sigs := make([]store.DKIMResult, 0, len(res.dkim))
	for _, d := range res.dkim {
		if d.domain != "" {
			sigs = append(sigs, store.DKIMResult{Domain: d.domain, Selector: d.selector, Result: d.result})
		}
	}
	n.DKIMResults = store.FormatDKIMResults(sigs)
	return n
}

func truncateDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

// results are what the checks found.
type results struct {
	spf   spfResult
	dkim  []dkimResult
	arc   arcResult
	iprev iprevResult
	dmarc []dmarcResult
}

func (r *results) summary() string {
	var parts []string
	if r.spf.result != "" {
		parts = append(parts, "spf="+r.spf.result)
	}
	if len(r.dkim) == 0 {
		parts = append(parts, "dkim=none")
	}
	for _, d := range r.dkim {
		parts = append(parts, "dkim="+d.result+"("+d.domain+")")
	}
	for _, d := range r.dmarc {
		parts = append(parts, "dmarc="+d.result+"("+d.domain+")")
	}
	if r.arc.result != "" {
		parts = append(parts, "arc="+r.arc.result)
	}
	if r.iprev.result != "" {
		parts = append(parts, "iprev="+r.iprev.result)
	}
	return strings.Join(parts, " ")
}

// formatResults writes the results of the Authentication-Results field:
// one per line, folded (RFC 8601 §2.2).
func (c *Checker) formatResults(in Input, r *results) string {
	var lines []string
	if r.spf.result != "" {
		s := "spf=" + r.spf.result
		if r.spf.reason != "" {
			s += " " + comment(r.spf.reason)
		}
		if in.MailFrom != "" {
			s += " smtp.mailfrom=" + pvalue(in.MailFrom)
		} else {
			s += " smtp.helo=" + pvalue(in.Helo)
		}
		lines = append(lines, s)
	}
	if !c.o.Skip["dkim"] && len(r.dkim) == 0 {
		lines = append(lines, "dkim=none")
	}
	for _, d := range r.dkim {
		s := "dkim=" + d.result
		if d.reason != "" {
			s += " reason=" + quote(d.reason)
		}
		if d.domain != "" {
			s += " header.d=" + pvalue(d.domain)
		}
		if d.selector != "" {
			s += " header.s=" + pvalue(d.selector)
		}
		lines = append(lines, s)
	}
	for _, d := range r.dmarc {
		if d.result == "" {
			continue
		}
		s := "dmarc=" + d.result
		if d.record {
			s += " " + comment("p="+string(d.policy)+" dis="+d.disposition)
		}
		lines = append(lines, s+" header.from="+pvalue(d.domain))
	}
	if r.arc.result != "" {
		s := "arc=" + r.arc.result
		if r.arc.reason != "" {
			s += " " + comment(r.arc.reason)
		}
		lines = append(lines, s+" smtp.remote-ip="+pvalue(in.IP.String()))
	}
	if r.iprev.result != "" {
		s := "iprev=" + r.iprev.result + " policy.iprev=" + pvalue(in.IP.String())
		if r.iprev.name != "" {
			s += " " + comment(r.iprev.name)
		}
		lines = append(lines, s)
	}
	if len(lines) == 0 {
		lines = []string{"none"}
	}
	return strings.Join(lines, ";\r\n\t")
}
