package sieve

import (
	"strings"
	"time"
)

// vacation (RFC 5230) and vacation-seconds (RFC 6131).

// Vacation is an executed vacation action. Whether a reply is sent is
// the caller's decision: VacationSkipReason, then its once-per-Period
// record keyed by Handle and the sender.
type Vacation struct {
	// Handle names this vacation for the once-per-period record: :handle,
	// or as Pigeonhole computes it, reason, subject, from and :mime
	// (RFC 5230 §4.2).
	Handle string
	// Period is :days or :seconds: 7 days by default, at least a day.
	Period    time.Duration
	Subject   string   // :subject, "" for the default
	From      string   // :from, "" for the recipient
	Addresses []string // :addresses
	MIME      bool     // Reason is a MIME entity (header and body)
	Reason    string
}

const (
	vacationDefaultPeriod = 7 * 24 * time.Hour
	vacationMinPeriod     = 24 * time.Hour
)

func (r *runner) vacation(n *node) error {
	if r.res.Vacation != nil {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "vacation: only one vacation per run"}
	}
	if err := r.action(n); err != nil {
		return err
	}
	v := &Vacation{Reason: r.expand(n.args[0].strs[0]), MIME: n.has("mime"), Period: vacationDefaultPeriod}
	if t := n.tag("days"); t != nil {
		v.Period = time.Duration(min(t.v.num, 1<<20)) * 24 * time.Hour
	}
	if t := n.tag("seconds"); t != nil {
		v.Period = time.Duration(min(t.v.num, 1<<35)) * time.Second
	}
	if v.Period < vacationMinPeriod {
		v.Period = vacationMinPeriod
	}
	if t := n.tag("subject"); t != nil {
		v.Subject = r.expand(t.v.strs[0])
	}
	if t := n.tag("from"); t != nil {
		v.From = r.expand(t.v.strs[0])
	}
	if t := n.tag("addresses"); t != nil {
		v.Addresses = r.expandList(t.v)
	}
	if t := n.tag("handle"); t != nil {
		v.Handle = r.expand(t.v.strs[0])
	} else {
		v.Handle = defaultHandle(v)
	}
	r.res.Vacation = v
	return nil
}

// defaultHandle builds a handle from the arguments that make one
// vacation differ from another, in Pigeonhole's form so both agree.
func defaultHandle(v *Vacation) string {
	var b strings.Builder
	b.WriteString(v.Reason)
	if v.Subject != "" {
		b.WriteString(v.Subject)
	} else {
		b.WriteString("<default-subject>")
	}
	if v.From != "" {
		b.WriteString(v.From)
	} else {
		b.WriteString("<default-from>")
	}
	if v.MIME {
		b.WriteString("<MIME>")
	} else {
		b.WriteString("<NO-MIME>")
	}
	return b.String()
}
