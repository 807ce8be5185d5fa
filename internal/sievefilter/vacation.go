package sievefilter

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"time"

	"postern/internal/message"
	"postern/internal/sieve"
	"postern/internal/store"
)

// The vacation response (JMAP VacationResponse, RFC 8621 §8; the webmail's
// and `postern vacation`'s) is not a script: it is the account's setting,
// acted on after the scripts as if the last of them said
//
//	vacation :days 7 :subject <subject> <text>
//
// so ManageSieve users keep whatever script they have, and a reply goes
// out through the same checks (VacationSkipReason), the same
// once-per-sender record (TrackSieve) and the same builder
// (vacationReply) as a script's. A script that runs vacation itself wins:
// there is never more than one reply to a message.

// VacationResponsePeriod is how long a sender who got the vacation
// response waits for the next one (RFC 5230's default :days 7).
const VacationResponsePeriod = 7 * 24 * time.Hour

// DefaultVacationText is the reply when neither textBody nor htmlBody is
// set (RFC 8621 §8 leaves it to the server).
const DefaultVacationText = "I am away at the moment and will read your message when I am back.\n"

// VacationInEffect reports whether the vacation response v replies to
// mail arriving at now: enabled, and now on or after From and before To
// (RFC 8621 §8: fromDate inclusive, toDate exclusive).
func VacationInEffect(v store.Vacation, now time.Time) bool {
	return v.Enabled && (v.From.IsZero() || !now.Before(v.From)) && (v.To.IsZero() || now.Before(v.To))
}

// VacationAction is the Sieve vacation action the vacation response v
// amounts to at now, or nil when it is not in effect.
func VacationAction(v store.Vacation, now time.Time) *sieve.Vacation {
	if !VacationInEffect(v, now) {
		return nil
	}
	act := &sieve.Vacation{Period: VacationResponsePeriod}
	if v.Subject != nil {
		act.Subject = strings.TrimSpace(*v.Subject)
	}
	text := DefaultVacationText
	switch {
	case v.TextBody != nil:
		text = *v.TextBody
	case v.HTMLBody != nil:
		// The visible words, one paragraph: a stand-in for clients that
		// show no HTML.
		text = strings.Join(strings.Fields(message.HTMLText(*v.HTMLBody)), " ") + "\n"
	}
	if v.HTMLBody == nil {
		act.Reason = text
	} else {
		act.Reason, act.MIME = alternative(text, *v.HTMLBody), true
	}
	// As Sieve's default handle: another text is another vacation, so a
	// sender who had the old one gets the new one.
	sum := sha256.Sum256([]byte(act.Subject + "\x00" + act.Reason))
	act.Handle = "vacationresponse:" + hex.EncodeToString(sum[:12])
	return act
}

// alternative is a multipart/alternative MIME entity (its header and
// body) of the text and the HTML, both quoted-printable UTF-8: a Sieve
// :mime reason.
func alternative(text, html string) string {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct{ typ, content string }{{"text/plain", text}, {"text/html", html}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.typ+"; charset=utf-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, _ := mw.CreatePart(h)
		qp := quotedprintable.NewWriter(w)
		qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(p.content, "\r\n", "\n"), "\n", "\r\n")))
		qp.Close()
	}
	mw.Close()
	return fmt.Sprintf("Content-Type: multipart/alternative; boundary=%q\r\n\r\n%s", mw.Boundary(), body.String())
}
