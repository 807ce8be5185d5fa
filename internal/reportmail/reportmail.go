// Package reportmail builds the mails that carry our aggregate reports
// (TLS-RPT, RFC 8460 §5.3; DMARC, RFC 7489 §7.2.1.1): a short text for
// the human reader and the compressed report as an attachment.
package reportmail

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"time"
)

// Mail is a report mail.
type Mail struct {
	// FromName is shown beside From, the report address.
	FromName, From, To string
	Subject            string
	// Header holds the report's own fields (TLS-Report-Domain, ...), in
	// this order.
	Header [][2]string
	// ReportType makes the mail multipart/report (RFC 6522) of that
	// report-type; "" makes it multipart/mixed.
	ReportType string
	Text       string
	// Attachment is the report, of media type AttachmentType, named
	// AttachmentName.
	AttachmentType, AttachmentName string
	Attachment                     []byte
	Date                           time.Time
	// MessageIDHost is the right side of the Message-ID.
	MessageIDHost string
}

// Bytes is the mail as sent, CRLF line ends.
func (m Mail) Bytes() []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s <%s>\r\n", mime.QEncoding.Encode("utf-8", m.FromName), m.From)
	fmt.Fprintf(&b, "To: <%s>\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", m.Subject)
	fmt.Fprintf(&b, "Date: %s\r\n", m.Date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", randomID(), m.MessageIDHost)
	for _, f := range m.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", f[0], f[1])
	}
	// RFC 3834 §5: a machine's mail, to which no machine should answer.
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")
	if m.ReportType != "" {
		fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=%q; boundary=%q\r\n\r\n", m.ReportType, mw.Boundary())
	} else {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", mw.Boundary())
	}

	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "text/plain; charset=us-ascii")
	pw, _ := mw.CreatePart(h)
	pw.Write([]byte(m.Text))

	h = textproto.MIMEHeader{}
	h.Set("Content-Type", m.AttachmentType+"; name=\""+m.AttachmentName+"\"")
	h.Set("Content-Transfer-Encoding", "base64")
	h.Set("Content-Disposition", "attachment; filename=\""+m.AttachmentName+"\"")
	pw, _ = mw.CreatePart(h)
	enc := base64.StdEncoding.EncodeToString(m.Attachment)
	for len(enc) > 76 {
		pw.Write([]byte(enc[:76] + "\r\n"))
		enc = enc[76:]
	}
	pw.Write([]byte(enc + "\r\n"))
	mw.Close()
	b.Write(body.Bytes())
	return b.Bytes()
}

// Gzip compresses a report as both RFCs ask.
func Gzip(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func randomID() string {
	var r [12]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}
