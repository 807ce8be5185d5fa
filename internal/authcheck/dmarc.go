package authcheck

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

type dmarcResult struct {
	domain string
	// result is pass, fail, none, temperror or permerror (RFC 8601
	// §2.7.2 via RFC 7489 §11.2).
	result string
	record bool
	// policy is the policy that applies (p, or sp for a subdomain whose
	// record was found at the organisational domain); disposition what
	// was decided after the pct sample: none, quarantine or reject.
	policy      dmarc.Policy
	disposition string
	spfAligned  bool
	dkimAligned bool
	// tempAuth: SPF or an aligned DKIM signature failed temporarily, so
	// an alignment failure may not be final.
	tempAuth bool
	// tempRecord: the record could not be fetched.
	tempRecord bool
}

// orgDomain is the organisational domain (RFC 7489 §3.2): the public
// suffix plus one label; a name that is a public suffix is its own.
func orgDomain(domain string) string {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}

// OrgDomain is the organisational domain of domain (RFC 7489 §3.2), as
// the checks judge alignment; the DMARC reports judge destinations with it.
func OrgDomain(domain string) string { return orgDomain(domain) }

// aligned compares an authenticated domain with the author domain:
// strict ("s") wants the same name, relaxed the same organisational
// domain (RFC 7489 §3.1).
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	a := strings.ToLower(strings.TrimSuffix(authDomain, "."))
	f := strings.ToLower(strings.TrimSuffix(fromDomain, "."))
	if a == "" || f == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return a == f
	}
	return a == f || orgDomain(a) == orgDomain(f)
}

// alignment tells whether SPF and DKIM pass aligned with domain, and
// whether a temporary failure leaves that open.
func alignment(domain string, aspf, adkim dmarc.AlignmentMode, in Input, r *results) (spfOK, dkimOK, temp bool) {
	spfOK = r.spf.result == "pass" && aligned(r.spf.domain, domain, aspf)
	// A temporary failure matters only where a pass would align.
	temp = r.spf.result == "temperror" && aligned(r.spf.domain, domain, aspf)
	for _, d := range r.dkim {
		if !aligned(d.domain, domain, adkim) {
			continue
		}
		switch d.result {
		case "pass":
			dkimOK = true
		case "temperror":
			temp = true
		}
	}
	return spfOK, dkimOK, temp
}

// evaluateDMARC applies the author domain's DMARC policy (RFC 7489 §6.6).
func (c *Checker) evaluateDMARC(ctx context.Context, in Input, domain string, r *results) dmarcResult {
	out := dmarcResult{domain: domain, disposition: "none"}
	rec, atOrg, err := c.lookupDMARC(ctx, domain)
	aspf, adkim := dmarc.AlignmentMode(dmarc.AlignmentRelaxed), dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	if rec != nil {
		out.record = true
		if rec.SPFAlignment != "" {
			aspf = rec.SPFAlignment
		}
		if rec.DKIMAlignment != "" {
			adkim = rec.DKIMAlignment
		}
		out.policy = rec.Policy
		if atOrg && rec.SubdomainPolicy != "" {
			out.policy = rec.SubdomainPolicy
		}
	}
	out.spfAligned, out.dkimAligned, out.tempAuth = alignment(domain, aspf, adkim, in, r)
	pass := out.spfAligned || out.dkimAligned
	switch {
	case err != nil && dmarc.IsTempFail(err):
		out.tempRecord = true
		out.result = "temperror"
		if pass {
			out.result = "pass" // whatever the record says, it passes
		}
		return out
	case rec == nil:
		out.result = "none"
		if err != nil && !errors.Is(err, dmarc.ErrNoPolicy) {
			out.result = "permerror"
		}
		return out
	case pass:
		out.result = "pass"
		return out
	}
	out.result = "fail"
	out.disposition = string(out.policy)
	// RFC 7489 §6.6.4: a message outside the pct sample gets the next
	// policy down.
	if rec.Percent != nil && *rec.Percent < 100 && c.o.Percent() >= *rec.Percent {
		switch out.policy {
		case dmarc.PolicyReject:
			out.disposition = string(dmarc.PolicyQuarantine)
		case dmarc.PolicyQuarantine:
			out.disposition = string(dmarc.PolicyNone)
		}
	}
	return out
}

// lookupDMARC finds the policy of domain: its own record, or else its
// organisational domain's (RFC 7489 §6.6.3); atOrg tells the latter.
func (c *Checker) lookupDMARC(ctx context.Context, domain string) (*dmarc.Record, bool, error) {
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return c.o.Resolver.LookupTXT(ctx, name) }}
	rec, err := dmarc.LookupWithOptions(domain, opts)
	if !errors.Is(err, dmarc.ErrNoPolicy) {
		return rec, false, err
	}
	org := orgDomain(domain)
	if org == domain {
		return nil, false, err
	}
	rec, err = dmarc.LookupWithOptions(org, opts)
	return rec, true, err
}

// action is what this domain's result asks of the message.
func (d dmarcResult) action() (Action, string) {
	switch {
	case d.result == "pass":
		return Accept, ""
	case d.tempRecord:
		return Defer, "DNS failure while fetching the DMARC policy of " + d.domain + ", try again later"
	case d.result != "fail":
		return Accept, ""
	case d.tempAuth && d.disposition != "none":
		return Defer, "DNS failure while authenticating " + d.domain + ", try again later"
	case d.disposition == string(dmarc.PolicyReject):
		return Reject, "DMARC policy of " + d.domain + " rejects this message: not authenticated (SPF and DKIM not aligned)"
	case d.disposition == string(dmarc.PolicyQuarantine):
		return Junk, "DMARC policy of " + d.domain + ": quarantine"
	}
	return Accept, ""
}
