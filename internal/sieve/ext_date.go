package sieve

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// date and currentdate (RFC 5260 §4-5).

var dateParts = map[string]bool{
	"year": true, "month": true, "day": true, "date": true, "julian": true, "hour": true,
	"minute": true, "second": true, "time": true, "iso8601": true, "std11": true, "zone": true, "weekday": true,
}

func (v *validator) resolveDate(n *node) *Error {
	// An unknown date part is no error: the test is false at run time,
	// as in Pigeonhole.
	if t := n.tag("zone"); t != nil && t.v.strs[0].constant() {
		if _, ok := parseZone(t.v.strs[0].lit); !ok {
			return errAt(t.v.pos, "%s: invalid time zone %q", n.name, t.v.strs[0].lit)
		}
	}
	return nil
}

// parseZone parses "+hhmm" / "-hhmm" (RFC 5260 §4.1).
func parseZone(s string) (*time.Location, bool) {
	if len(s) != 5 || s[0] != '+' && s[0] != '-' {
		return nil, false
	}
	for i := 1; i < 5; i++ {
		if !isDigit(s[i]) {
			return nil, false
		}
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return nil, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return time.FixedZone(s, off), true
}

func (r *runner) date(n *node) (bool, error) {
	partArg := n.args[len(n.args)-2]
	part := strings.ToLower(r.expand(partArg.strs[0]))
	if !dateParts[part] {
		return false, nil
	}
	zone := r.env.Location
	keepZone := n.has("originalzone")
	if t := n.tag("zone"); t != nil {
		z, ok := parseZone(r.expand(t.v.strs[0]))
		if !ok {
			return false, nil // RFC 5260 §4.1: an invalid zone fails the test
		}
		zone = z
	}
	var vals []string
	if n.name == "currentdate" {
		vals = append(vals, datePart(r.env.Now.In(zone), part))
		return r.match(n, vals, n.args[len(n.args)-1])
	}
	if err := r.msg.load(); err != nil {
		return false, err
	}
	name := strings.ToLower(r.expand(n.args[0].strs[0]))
	for _, f := range pick(r.msg.named(name), n.index, n.last) {
		v := unfold(f.raw)
		if name == "received" {
			// The date of a Received field follows its last ';' (RFC 5260 §4.1).
			if i := strings.LastIndexByte(v, ';'); i >= 0 {
				v = v[i+1:]
			}
		}
		t, err := mail.ParseDate(strings.TrimSpace(stripComment(v)))
		if err != nil {
			continue
		}
		if !keepZone {
			t = t.In(zone)
		}
		vals = append(vals, datePart(t, part))
	}
	return r.match(n, vals, n.args[len(n.args)-1])
}

// stripComment drops a trailing "(...)" comment, as in "+0000 (UTC)".
func stripComment(s string) string {
	if i := strings.IndexByte(s, '('); i > 0 {
		return s[:i]
	}
	return s
}

func datePart(t time.Time, part string) string {
	switch part {
	case "year":
		return fmt.Sprintf("%04d", t.Year())
	case "month":
		return fmt.Sprintf("%02d", int(t.Month()))
	case "day":
		return fmt.Sprintf("%02d", t.Day())
	case "date":
		return t.Format("2006-01-02")
	case "julian":
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return fmt.Sprint(d.Unix()/86400 + 40587) // Modified Julian Day
	case "hour":
		return fmt.Sprintf("%02d", t.Hour())
	case "minute":
		return fmt.Sprintf("%02d", t.Minute())
	case "second":
		return fmt.Sprintf("%02d", t.Second())
	case "time":
		return t.Format("15:04:05")
	case "iso8601":
		return t.Format("2006-01-02T15:04:05-07:00")
	case "std11":
		return t.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	case "zone":
		return t.Format("-0700")
	case "weekday":
		return fmt.Sprint(int(t.Weekday()))
	}
	return ""
}
