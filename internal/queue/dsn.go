package queue

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxHeaderBytes bounds how much of a queued message's header is read for
// the hop count and for the copy of the headers in a DSN.
const maxHeaderBytes = 256 << 10

// maxHops is the Received count past which a message is taken to be in a
// loop. RFC 5321 §6.3 asks servers that reject on this count for a large
// threshold (normally at least 100); a queue that bounces instead can stop
// sooner, and 50 is what Postfix's hopcount_limit has long used.
const maxHops = 50

// readHeader reads the header block of a message: its bytes (without the
// blank line) up to maxHeaderBytes, the number of Received fields, and
// whether it holds non-ASCII bytes (then it needs SMTPUTF8, RFC 6532).
func readHeader(r io.Reader) (head []byte, hops int, utf8 bool, err error) {
	br := bufio.NewReader(io.LimitReader(r, maxHeaderBytes))
	var buf bytes.Buffer
	partial := false // the previous chunk ended inside a long line
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			buf.Write(line)
			partial = true
			continue
		}
		if !partial && len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if !partial && len(line) > 9 && strings.EqualFold(string(line[:9]), "received:") {
			hops++
		}
		partial = false
		buf.Write(line)
		if err != nil {
			break
		}
	}
	head = buf.Bytes()
	for _, b := range head {
		if b >= 0x80 {
			utf8 = true
			break
		}
	}
	return head, hops, utf8, nil
}

// dsnRecipient is one recipient's entry in a DSN.
type dsnRecipient struct {
	rcpt, orcpt string
	status      string // enhanced status code, RFC 3463
	diag        string // the remote reply, or our reason
	remoteMTA   string
	lastAttempt time.Time
}

// dsnInfo is what a DSN reports.
type dsnInfo struct {
	hostname  string
	queueID   string
	sender    string
	envID     string
	arrival   time.Time
	delayed   bool // a delay warning instead of a failure
	retryTill time.Time
	rcpts     []dsnRecipient
	headers   []byte
	now       time.Time
}

// buildDSN writes a delivery status notification (RFC 3464): a
// multipart/report (RFC 6522) with a human part, a message/delivery-status
// part and the original message's headers as text/rfc822-headers.
func buildDSN(d dsnInfo) []byte {
	var rb [12]byte
	rand.Read(rb[:])
	tag := hex.EncodeToString(rb[:])
	boundary := "=_postern_" + tag
	var b bytes.Buffer
	subject := "Undelivered Mail Returned to Sender"
	if d.delayed {
		subject = "Delayed Mail (still being retried)"
	}
	date := d.now.Format(time.RFC1123Z)
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d.hostname)
	fmt.Fprintf(&b, "To: <%s>\r\n", d.sender)
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	fmt.Fprintf(&b, "Date: %s\r\n", date)
	fmt.Fprintf(&b, "Message-ID: <dsn.%s.%s@%s>\r\n", d.queueID, tag, d.hostname)
	// RFC 3834 §5: an automatic reply, so nobody answers it automatically.
	b.WriteString("Auto-Submitted: auto-replied\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a MIME-encapsulated delivery status notification.\r\n\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	writeHuman(&b, d)

	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	writeStatus(&b, d)

	fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
	b.Write(bytes.ReplaceAll(bytes.ReplaceAll(d.headers, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes()
}

func writeHuman(b *bytes.Buffer, d dsnInfo) {
	fmt.Fprintf(b, "This is the mail system at %s.\r\n\r\n", d.hostname)
	if d.delayed {
		fmt.Fprintf(b, "Your message (queue id %s) could not be delivered yet to the\r\nrecipients below. It stays queued and will be retried until %s.\r\nYou do not need to resend it.\r\n\r\n",
			d.queueID, d.retryTill.Format(time.RFC1123Z))
	} else {
		fmt.Fprintf(b, "Your message (queue id %s) could not be delivered to the\r\nrecipients below. This is a permanent error; it will not be retried.\r\n\r\n", d.queueID)
	}
	for _, r := range d.rcpts {
		fmt.Fprintf(b, "<%s>: %s\r\n", r.rcpt, oneLine(r.diag))
	}
}

func writeStatus(b *bytes.Buffer, d dsnInfo) {
	// RFC 3464 §2.2: per-message fields.
	fmt.Fprintf(b, "Reporting-MTA: dns; %s\r\n", d.hostname)
	fmt.Fprintf(b, "X-Postern-Queue-ID: %s\r\n", d.queueID)
	if d.envID != "" {
		fmt.Fprintf(b, "Original-Envelope-Id: %s\r\n", oneLine(d.envID))
	}
	fmt.Fprintf(b, "Arrival-Date: %s\r\n", d.arrival.Format(time.RFC1123Z))
	// §2.3: per-recipient fields, each group after a blank line.
	for _, r := range d.rcpts {
		b.WriteString("\r\n")
		if r.orcpt != "" {
			fmt.Fprintf(b, "Original-Recipient: %s\r\n", oneLine(r.orcpt))
		}
		fmt.Fprintf(b, "Final-Recipient: rfc822; %s\r\n", r.rcpt)
		if d.delayed {
			b.WriteString("Action: delayed\r\n")
		} else {
			b.WriteString("Action: failed\r\n")
		}
		fmt.Fprintf(b, "Status: %s\r\n", r.status)
		if r.remoteMTA != "" {
			fmt.Fprintf(b, "Remote-MTA: dns; %s\r\n", r.remoteMTA)
		}
		if r.diag != "" {
			fmt.Fprintf(b, "Diagnostic-Code: smtp; %s\r\n", oneLine(r.diag))
		}
		if !r.lastAttempt.IsZero() {
			fmt.Fprintf(b, "Last-Attempt-Date: %s\r\n", r.lastAttempt.Format(time.RFC1123Z))
		}
		if d.delayed {
			fmt.Fprintf(b, "Will-Retry-Until: %s\r\n", d.retryTill.Format(time.RFC1123Z))
		}
	}
}

// oneLine keeps a peer's text from breaking the DSN's structure.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 900 {
		s = s[:900]
	}
	return s
}
