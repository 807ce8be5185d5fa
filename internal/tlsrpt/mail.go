package tlsrpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"postern/internal/reportmail"
)

// ParseRecord returns the report addresses (rua) of a domain's
// _smtp._tls TXT records (RFC 8460 §3): mailto: and https: URIs. More than
// one TLSRPTv1 record is no record.
func ParseRecord(txts []string) ([]string, error) {
	var rua []string
	found := false
	for _, txt := range txts {
		if !strings.HasPrefix(txt, "v=TLSRPTv1") {
			continue
		}
		if found {
			return nil, errors.New("more than one TLSRPTv1 record")
		}
		found = true
		for _, field := range strings.Split(txt, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
			if strings.TrimSpace(k) != "rua" {
				continue
			}
			for _, u := range strings.Split(v, ",") {
				u = strings.TrimSpace(u)
				if strings.HasPrefix(u, "mailto:") || strings.HasPrefix(u, "https://") {
					rua = append(rua, u)
				}
			}
		}
	}
	if found && len(rua) == 0 {
		return nil, errors.New("TLSRPTv1 record without a usable rua")
	}
	return rua, nil
}

// Gzip is the report as sent: JSON, gzip-compressed (RFC 8460 §5.1).
func Gzip(r Report) ([]byte, error) {
	js, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return reportmail.Gzip(js)
}

// Message is the report as a mail (RFC 8460 §5.3): multipart/report of
// report-type tlsrpt, a text part and the application/tlsrpt+gzip report.
func Message(r Report, domain, from, to string, gz []byte, now time.Time) []byte {
	submitter := r.OrganizationName
	return reportmail.Mail{
		FromName: "TLS reporting", From: from, To: to,
		Subject:    fmt.Sprintf("Report Domain: %s Submitter: %s Report-ID: <%s>", domain, submitter, r.ReportID),
		Header:     [][2]string{{"TLS-Report-Domain", domain}, {"TLS-Report-Submitter", submitter}},
		ReportType: "tlsrpt",
		Text: fmt.Sprintf("This is an aggregate TLS report from %s for %s, %s to %s.\r\n", submitter, domain,
			r.DateRange.Start.Format(time.RFC3339), r.DateRange.End.Format(time.RFC3339)),
		AttachmentType: "application/tlsrpt+gzip",
		AttachmentName: fmt.Sprintf("%s!%s!%d!%d.json.gz", submitter, domain, r.DateRange.Start.Unix(), r.DateRange.End.Unix()),
		Attachment:     gz, Date: now, MessageIDHost: submitter,
	}.Bytes()
}
