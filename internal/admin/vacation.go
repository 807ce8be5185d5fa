package admin

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"postern/internal/sievefilter"
	"postern/internal/store"
)

// Limits on a vacation response. The subject is one header line (RFC 5322
// §2.1.1 allows 998 octets); the bodies are a short note, not a document.
const (
	MaxVacationSubject = 900
	MaxVacationBody    = 64 << 10
)

// CheckVacation applies the rules on a vacation response: texts are UTF-8
// within the limits, the subject one line, and a period that ends after
// it starts. A refusal is an *Error of KindInvalid whose Field is
// "subject", "text", "html" or "to".
func CheckVacation(v store.Vacation) error {
	for _, t := range []struct {
		field string
		s     *string
		max   int
	}{{"subject", v.Subject, MaxVacationSubject}, {"text", v.TextBody, MaxVacationBody}, {"html", v.HTMLBody, MaxVacationBody}} {
		if t.s == nil {
			continue
		}
		if len(*t.s) > t.max || !utf8.ValidString(*t.s) || strings.ContainsRune(*t.s, 0) {
			return invalid(t.field, "", nil, "vacation %s: give at most %d bytes of text", t.field, t.max)
		}
		if t.field == "subject" && strings.ContainsAny(*t.s, "\r\n") {
			return invalid(t.field, *t.s, nil, "vacation subject: one line, no line breaks")
		}
	}
	if !v.From.IsZero() && !v.To.IsZero() && !v.To.After(v.From) {
		return invalid("to", v.To.Format(time.RFC3339), nil, "vacation: the end (%s) must come after the start (%s)",
			v.To.Format(time.RFC3339), v.From.Format(time.RFC3339))
	}
	return nil
}

// VacationState says in words whether the vacation response replies at
// now: "off", "on", "on until ...", "from ... (not yet)", "ended ...".
func VacationState(v store.Vacation, now time.Time) string {
	const layout = "2006-01-02 15:04 MST"
	switch {
	case !v.Enabled:
		return "off"
	case sievefilter.VacationInEffect(v, now) && v.To.IsZero():
		return "on"
	case sievefilter.VacationInEffect(v, now):
		return "on until " + v.To.Format(layout)
	case !v.From.IsZero() && now.Before(v.From):
		return "from " + v.From.Format(layout) + " (not yet)"
	default:
		return "ended " + v.To.Format(layout)
	}
}

// Vacation returns the account's vacation response (disabled and empty
// when it never set one).
func (s *Service) Vacation(ctx context.Context, addr string) (store.Vacation, error) {
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return store.Vacation{}, err
	}
	v, err := s.st.Vacation(ctx, acct.ID)
	if err != nil {
		return v, storeErr(err, "address", addr, "account "+acct.Address)
	}
	return v, nil
}

// SetVacation checks v and makes it the account's vacation response,
// returned as stored (dates kept to the second). The delivery filter
// acts on it (sievefilter.VacationAction) whatever the account's scripts.
func (s *Service) SetVacation(ctx context.Context, addr string, v store.Vacation) (store.Vacation, error) {
	if err := needActor(ctx); err != nil {
		return store.Vacation{}, err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return store.Vacation{}, err
	}
	if err := CheckVacation(v); err != nil {
		return store.Vacation{}, err
	}
	out, err := s.st.PutVacation(ctx, acct.ID, v)
	if err != nil {
		return out, storeErr(err, "address", addr, "account "+acct.Address)
	}
	s.audit(ctx, "vacation.set", acct.Address, "enabled", v.Enabled, "state", VacationState(out, time.Now()))
	return out, nil
}
