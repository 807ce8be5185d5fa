package sieve

import (
	"strings"
	"time"
)

// duplicate (RFC 7352).

// duplicateDefaultPeriod is the tracking period without :seconds, as
// Pigeonhole's default.
const duplicateDefaultPeriod = 14 * 24 * time.Hour

func (r *runner) duplicate(n *node) (bool, error) {
	handle := ""
	if t := n.tag("handle"); t != nil {
		handle = r.expand(t.v.strs[0])
	}
	var id string
	if t := n.tag("uniqueid"); t != nil {
		id = r.expand(t.v.strs[0])
	} else {
		name := "message-id"
		if t := n.tag("header"); t != nil {
			name = strings.ToLower(r.expand(t.v.strs[0]))
		}
		if err := r.msg.load(); err != nil {
			return false, err
		}
		fs := r.msg.named(name)
		if len(fs) == 0 {
			return false, nil // RFC 7352 §3.2: no id, not a duplicate
		}
		id = fs[0].value()
	}
	if id == "" {
		return false, nil
	}
	period := duplicateDefaultPeriod
	if t := n.tag("seconds"); t != nil {
		period = time.Duration(min(t.v.num, 1<<35)) * time.Second
	}
	key := handle + "\x00" + id
	if seen, ok := r.dupSeen[key]; ok {
		return seen, nil
	}
	seen := r.env.Duplicate != nil && r.env.Duplicate(handle, id)
	r.dupSeen[key] = seen
	r.res.DuplicateMarks = append(r.res.DuplicateMarks, DuplicateMark{Handle: handle, ID: id, Period: period, Last: n.has("last")})
	return seen, nil
}
