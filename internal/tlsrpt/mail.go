package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"
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
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(js)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Message is the report as a mail (RFC 8460 §5.3): multipart/report of
// report-type tlsrpt, a text part and the application/tlsrpt+gzip report.
func Message(r Report, domain, from, to string, gz []byte, now time.Time) []byte {
	var b bytes.Buffer
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	submitter := r.OrganizationName
	fmt.Fprintf(&b, "From: TLS reporting <%s>\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n", domain, submitter, r.ReportID)
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", randomID(), submitter)
	fmt.Fprintf(&b, "TLS-Report-Domain: %s\r\n", domain)
	fmt.Fprintf(&b, "TLS-Report-Submitter: %s\r\n", submitter)
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"%s\"\r\n\r\n", mw.Boundary())

	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "text/plain; charset=us-ascii")
	pw, _ := mw.CreatePart(h)
	fmt.Fprintf(pw, "This is an aggregate TLS report from %s for %s, %s to %s.\r\n", submitter, domain,
		r.DateRange.Start.Format(time.RFC3339), r.DateRange.End.Format(time.RFC3339))

	name := fmt.Sprintf("%s!%s!%d!%d.json.gz", submitter, domain, r.DateRange.Start.Unix(), r.DateRange.End.Unix())
	h = textproto.MIMEHeader{}
	h.Set("Content-Type", "application/tlsrpt+gzip; name=\""+name+"\"")
	h.Set("Content-Transfer-Encoding", "base64")
	h.Set("Content-Disposition", "attachment; filename=\""+name+"\"")
	pw, _ = mw.CreatePart(h)
	enc := base64.StdEncoding.EncodeToString(gz)
	for len(enc) > 76 {
		pw.Write([]byte(enc[:76] + "\r\n"))
		enc = enc[76:]
	}
	pw.Write([]byte(enc + "\r\n"))
	mw.Close()
	b.Write(body.Bytes())
	return b.Bytes()
}

func randomID() string {
	var r [12]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}
