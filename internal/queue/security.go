package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"postern/internal/dane"
	"postern/internal/mtasts"
	"postern/internal/store"
)

// STSLookup finds recipient domains' MTA-STS policies (mtasts.Fetcher).
type STSLookup interface {
	Lookup(ctx context.Context, domain string) mtasts.Result
}

// DANELookup looks up DNSSEC-validated TLSA records (dane.Resolver).
type DANELookup interface {
	Enabled(ctx context.Context) bool
	MXSecure(ctx context.Context, domain string) (bool, error)
	AddrSecure(ctx context.Context, host string) (bool, error)
	Lookup(ctx context.Context, host string, port int) ([]dane.TLSA, bool, error)
}

// TLSRecorder counts outbound TLS results for TLS-RPT (store.TLSResults).
type TLSRecorder interface {
	AddTLSResult(ctx context.Context, r store.TLSResult) error
}

// TLS-RPT result types (RFC 8460 §4.3.2).
const (
	resultStartTLS       = "starttls-not-supported"
	resultHostMismatch   = "certificate-host-mismatch"
	resultExpired        = "certificate-expired"
	resultNotTrusted     = "certificate-not-trusted"
	resultValidation     = "validation-failure"
	resultTLSAInvalid    = "tlsa-invalid"
	resultDNSSECInvalid  = "dnssec-invalid"
	policyTypeSTS        = "sts"
	policyTypeTLSA       = "tlsa"
	policyTypeNoPolicy   = "no-policy-found"
	statusRequireTLS     = "5.7.30" // RFC 8689 §5: REQUIRETLS support required
	statusSecurityFailed = "4.7.5"  // RFC 3463: cryptographic failure
)

// destPolicy is what protects delivery to one recipient domain.
type destPolicy struct {
	domain string
	sts    mtasts.Result
	// dane is on for the domain: a validating resolver and a secure MX RRset.
	dane bool
	// requireTLS: a REQUIRETLS message; tlsOptional: TLS-Required: No.
	requireTLS, tlsOptional bool
}

// hostPolicy is how one MX host is connected to.
type hostPolicy struct {
	// mode: "" opportunistic, "sts" (verified for the MX name, RFC 8461
	// §4.2), "dane" (matching the TLSA records, RFC 7672).
	mode string
	tlsa []dane.TLSA
	// report names the policy in TLS-RPT: its domain, type and lines.
	report store.TLSResult
	// stsTesting: an MTA-STS policy in testing mode applies to the host;
	// its failures are recorded, not enforced. notInPolicy: the policy
	// does not list the host.
	stsTesting, notInPolicy bool
}

// securityError is a host refused for transport security: no connection
// in clear text follows it.
type securityError struct {
	result string // TLS-RPT result type
	err    error
}

func (e *securityError) Error() string { return e.err.Error() }
func (e *securityError) Unwrap() error { return e.err }

// destSecurity looks up the domain's MTA-STS policy and whether DANE can
// apply to it. A TLS-Required: No header (RFC 8689 §5) sets both aside,
// unless the message also asks for REQUIRETLS. A non-nil fail is the
// outcome for every recipient when that cannot be known.
func (q *Queue) destSecurity(ctx context.Context, env envelope, domain string) (dp destPolicy, fail *outcome) {
	dp = destPolicy{domain: domain, requireTLS: env.m.RequireTLS, tlsOptional: env.tlsOptional && !env.m.RequireTLS}
	if dp.tlsOptional {
		return dp, nil
	}
	if q.opts.STS != nil {
		dp.sts = q.opts.STS.Lookup(ctx, domain)
		if dp.sts.Failure != "" {
			q.recordTLS(ctx, store.TLSResult{PolicyDomain: domain, PolicyType: policyTypeSTS, ResultType: dp.sts.Failure})
		}
	}
	if q.opts.DANE != nil && q.opts.DANE.Enabled(ctx) {
		secure, err := q.opts.DANE.MXSecure(ctx, domain)
		if err != nil {
			// RFC 7672 §2.2.1: whether DANE applies is unknown; going on
			// without it would let a DNS failure downgrade the delivery.
			return dp, &outcome{status: store.QueuePending, code: "4.4.3", diag: "DANE: " + err.Error()}
		}
		dp.dane = secure
	}
	return dp, nil
}

// hostSecurity decides how to connect to host. A non-nil skip is the
// outcome when the host may not be used.
func (q *Queue) hostSecurity(ctx context.Context, dp destPolicy, host string) (hostPolicy, *outcome) {
	hp := hostPolicy{report: store.TLSResult{PolicyDomain: dp.domain, PolicyType: policyTypeNoPolicy, MXHost: host}}
	if dp.tlsOptional {
		return hp, nil
	}
	if dp.dane {
		// RFC 7672 §2.2.2: TLSA records count only for a host whose
		// addresses are secure too; otherwise it is a host without them.
		var recs []dane.TLSA
		secure, err := q.opts.DANE.AddrSecure(ctx, host)
		if err == nil && secure {
			recs, secure, err = q.opts.DANE.Lookup(ctx, host, q.opts.Port)
		}
		if err != nil {
			// RFC 7672 §2.2.1: an indeterminate TLSA answer rules the host out.
			q.recordTLS(ctx, store.TLSResult{PolicyDomain: dp.domain, PolicyType: policyTypeTLSA, MXHost: host, ResultType: resultDNSSECInvalid})
			return hp, &outcome{status: store.QueuePending, code: statusSecurityFailed, diag: "DANE: " + err.Error()}
		}
		if secure && len(recs) > 0 {
			hp.mode, hp.tlsa = "dane", dane.Usable(recs)
			lines := make([]string, len(recs))
			for i, r := range recs {
				lines[i] = r.String()
			}
			hp.report.PolicyType, hp.report.PolicyString = policyTypeTLSA, strings.Join(lines, "\n")
			return hp, nil
		}
	}
	if p := dp.sts.Policy; p != nil && p.Mode != mtasts.None {
		hp.report.PolicyType, hp.report.PolicyString = policyTypeSTS, p.String()
		// RFC 8689 §4.2.1: for a REQUIRETLS message a testing policy is
		// enforced.
		enforce := p.Mode == mtasts.Enforce || dp.requireTLS
		if !p.AllowsMX(host) {
			if enforce {
				q.recordTLS(ctx, withResult(hp.report, resultValidation))
				return hp, &outcome{status: store.QueuePending, code: statusSecurityFailed,
					diag: fmt.Sprintf("MX host %s is not in the MTA-STS policy of %s", host, dp.domain)}
			}
			hp.stsTesting, hp.notInPolicy = true, true
			return hp, nil
		}
		if enforce {
			hp.mode = "sts"
		} else {
			hp.stsTesting = true
		}
		return hp, nil
	}
	if dp.requireTLS {
		return hp, &outcome{status: store.QueueFailed, code: statusRequireTLS,
			diag: fmt.Sprintf("REQUIRETLS: %s has neither DANE nor an MTA-STS policy to verify %s by", dp.domain, host)}
	}
	return hp, nil
}

func withResult(r store.TLSResult, result string) store.TLSResult {
	r.ResultType = result
	return r
}

// recordTLS counts one session's result for today's TLS-RPT report.
func (q *Queue) recordTLS(ctx context.Context, r store.TLSResult) {
	if q.opts.TLSResults == nil {
		return
	}
	r.Day = q.now().UTC().Format("2006-01-02")
	r.Sessions = 1
	if err := q.opts.TLSResults.AddTLSResult(context.WithoutCancel(ctx), r); err != nil {
		q.log.Error("TLS result not recorded", "domain", r.PolicyDomain, "err", err)
	}
}

// recordConn counts a new connection's TLS result under hp's policy.
func (q *Queue) recordConn(ctx context.Context, hp hostPolicy, c *conn) {
	r := hp.report
	r.ReceivingIP = c.ip
	switch {
	case !c.tls:
		r.ResultType = resultStartTLS
	case hp.notInPolicy:
		r.ResultType = resultValidation
	case hp.stsTesting && !c.verified:
		r.ResultType = tlsResultType(c.verifyErr)
	}
	q.recordTLS(ctx, r)
}

// recordConnFailure counts a connection refused for its TLS.
func (q *Queue) recordConnFailure(ctx context.Context, hp hostPolicy, err error) {
	var se *securityError
	if errors.As(err, &se) {
		q.recordTLS(ctx, withResult(hp.report, se.result))
	}
}

// tlsResultType names a TLS failure for TLS-RPT.
func tlsResultType(err error) string {
	var hostErr x509.HostnameError
	var invErr x509.CertificateInvalidError
	var authErr x509.UnknownAuthorityError
	var verErr *tls.CertificateVerificationError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errNoStartTLS):
		return resultStartTLS
	case errors.As(err, &hostErr):
		return resultHostMismatch
	case errors.As(err, &invErr) && invErr.Reason == x509.Expired:
		return resultExpired
	case errors.As(err, &authErr), errors.As(err, &verErr):
		return resultNotTrusted
	case errors.Is(err, dane.ErrNoMatch):
		return resultValidation
	}
	return resultValidation
}

// secureTLS is the TLS configuration of a host whose policy requires
// verified TLS.
func (d *dialer) secureTLS(host string, hp hostPolicy) *tls.Config {
	if hp.mode != "dane" {
		return d.requiredTLS(host)
	}
	recs := hp.tlsa
	return &tls.Config{
		ServerName: host,
		// The chain is checked against the TLSA records, not the web PKI
		// (RFC 7672 §3.1).
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(recs) == 0 {
				return nil // §2.2: only unusable records: encrypted, unauthenticated
			}
			return dane.Verify(recs, cs.PeerCertificates, []string{host})
		},
	}
}

// dialSecure connects to host at ip with the TLS its policy requires: no
// fallback to clear text or to an unverified peer.
func (d *dialer) dialSecure(ctx context.Context, host string, ip net.IP, hp hostPolicy) (*conn, error) {
	addr := net.JoinHostPort(ip.String(), fmt.Sprint(d.opts.Port))
	c, err := d.open(ctx, host, addr, "starttls", d.secureTLS(host, hp))
	var terr tlsError
	switch {
	case err == nil:
		c.verified = hp.mode != "dane" || len(hp.tlsa) > 0
		return c, nil
	case errors.Is(err, errNoStartTLS):
		return nil, &securityError{result: resultStartTLS, err: fmt.Errorf("%s offers no STARTTLS, and the %s policy requires TLS", host, policyName(hp))}
	case errors.As(err, &terr):
		res := tlsResultType(err)
		if hp.mode == "dane" && res != resultStartTLS {
			res = resultValidation
		}
		return nil, &securityError{result: res, err: fmt.Errorf("TLS with %s failed the %s policy: %v", host, policyName(hp), err)}
	}
	return nil, err
}

func policyName(hp hostPolicy) string {
	if hp.mode == "dane" {
		return "DANE"
	}
	return "MTA-STS"
}

// tlsRequiredNo reports whether the header has "TLS-Required: No" (RFC
// 8689 §5).
func tlsRequiredNo(head []byte) bool {
	for _, line := range bytes.Split(head, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "TLS-Required") {
			return strings.EqualFold(string(bytes.TrimSpace(value)), "no")
		}
	}
	return false
}
