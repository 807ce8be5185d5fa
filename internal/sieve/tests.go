package sieve

import (
	"regexp"
	"strings"
	"unsafe"
)

// test evaluates a test (RFC 5228 §5 and the extensions' tests).
func (r *runner) test(n *node) (bool, error) {
	if err := r.step(n.pos); err != nil {
		return false, err
	}
	switch n.name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "not":
		ok, err := r.test(n.tests[0])
		return !ok, err
	case "allof":
		for _, t := range n.tests {
			if ok, err := r.test(t); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case "anyof":
		for _, t := range n.tests {
			if ok, err := r.test(t); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case "size":
		return r.size(n)
	case "exists":
		return r.exists(n)
	case "header":
		vals, err := r.headerValues(n)
		if err != nil {
			return false, err
		}
		return r.match(n, vals, n.args[1])
	case "address":
		vals, err := r.addressValues(n)
		if err != nil {
			return false, err
		}
		return r.match(n, vals, n.args[1])
	case "envelope":
		return r.match(n, r.envelopeValues(n), n.args[1])
	case "string":
		vals := r.expandList(n.args[0])
		if n.mt == mtCount {
			// RFC 5229 §5: :count counts the non-empty strings.
			var nonEmpty []string
			for _, v := range vals {
				if v != "" {
					nonEmpty = append(nonEmpty, v)
				}
			}
			vals = nonEmpty
		}
		return r.match(n, vals, n.args[1])
	case "hasflag":
		return r.match(n, r.hasflagValues(n), n.args[len(n.args)-1])
	case "body":
		return r.body(n)
	case "date", "currentdate":
		return r.date(n)
	case "mailboxexists":
		for _, name := range r.expandList(n.args[0]) {
			if !r.mailboxExists(name) {
				return false, nil
			}
		}
		return true, nil
	case "duplicate":
		return r.duplicate(n)
	}
	return false, &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "unknown test " + quote(n.name)}
}

func (r *runner) mailboxExists(name string) bool {
	if r.env.MailboxExists == nil {
		return strings.EqualFold(name, "INBOX")
	}
	return r.env.MailboxExists(name)
}

func (r *runner) size(n *node) (bool, error) {
	var sz int64
	if r.env.Message != nil {
		sz = r.env.Message.Size()
	}
	limit := n.args[0].num
	if n.has("over") {
		return sz > limit, nil
	}
	return sz < limit, nil
}

func (r *runner) exists(n *node) (bool, error) {
	if err := r.msg.load(); err != nil {
		return false, err
	}
	for _, name := range r.expandList(n.args[0]) {
		if len(r.msg.named(strings.ToLower(name))) == 0 {
			return false, nil
		}
	}
	return true, nil
}

func (r *runner) headerValues(n *node) ([]string, error) {
	if err := r.msg.load(); err != nil {
		return nil, err
	}
	var vals []string
	for _, name := range r.expandList(n.args[0]) {
		for _, f := range pick(r.msg.named(strings.ToLower(name)), n.index, n.last) {
			vals = append(vals, f.value())
		}
	}
	return vals, nil
}

func (r *runner) addressValues(n *node) ([]string, error) {
	if err := r.msg.load(); err != nil {
		return nil, err
	}
	var vals []string
	for _, name := range r.expandList(n.args[0]) {
		for _, f := range pick(r.msg.named(strings.ToLower(name)), n.index, n.last) {
			for _, a := range f.addresses() {
				if v, ok := n.part.get(a); ok {
					vals = append(vals, v)
				}
			}
		}
	}
	return vals, nil
}

// envelopeValues returns the envelope parts asked for (RFC 5228 §5.4).
// The null reverse-path is "" for :all and has no other part.
func (r *runner) envelopeValues(n *node) []string {
	var vals []string
	for _, name := range r.expandList(n.args[0]) {
		var raw string
		switch strings.ToLower(name) {
		case "from":
			raw = r.env.Envelope.From
		case "to":
			raw = r.env.Envelope.To
		case "auth":
			raw = r.env.Envelope.Auth
			if raw == "" {
				continue
			}
		default:
			continue
		}
		raw = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(raw), "<"), ">")
		if raw == "" {
			if n.part == partAll {
				vals = append(vals, "")
			}
			continue
		}
		a, ok := parseOneAddress(raw)
		if !ok {
			continue
		}
		if v, ok := n.part.get(a); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// match compares values with keys as the node's comparator and match
// type say (RFC 5228 §2.7, RFC 5231). A successful :matches or :regex
// sets the match variables (RFC 5229 §3.2).
func (r *runner) match(n *node, vals []string, keyVal val) (bool, error) {
	keys := keyVal.strs
	switch n.mt {
	case mtCount:
		count := countOf(len(vals))
		for _, k := range keys {
			if err := r.step(n.pos); err != nil {
				return false, err
			}
			if n.rel.holds(n.cmp.compare(count, r.expand(k))) {
				return true, nil
			}
		}
		return false, nil
	case mtValue:
		for _, v := range vals {
			for _, k := range keys {
				if err := r.step(n.pos); err != nil {
					return false, err
				}
				if n.rel.holds(n.cmp.compare(v, r.expand(k))) {
					return true, nil
				}
			}
		}
		return false, nil
	}
	for _, v := range vals {
		fv := ""
		if n.mt == mtContains && n.cmp == cmpCasemap {
			fv = r.fold(v) // once per value, not per key
		}
		for i, k := range keys {
			if err := r.step(n.pos); err != nil {
				return false, err
			}
			if fv != "" || n.mt == mtContains && n.cmp == cmpCasemap {
				r.steps += len(v) >> 12
				if strings.Contains(fv, foldASCII(r.expand(k))) {
					return true, nil
				}
				continue
			}
			ok, err := r.matchOne(n, v, k, i)
			if err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

func (r *runner) matchOne(n *node, v string, k str, i int) (bool, error) {
	// Long values cost more steps, so MaxSteps bounds the time spent
	// comparing; a :matches pattern costs per star.
	r.steps += len(v) >> 12
	if n.mt == mtMatches {
		r.steps += (len(v) >> 12) * strings.Count(k.lit, "*")
	}
	switch n.mt {
	case mtIs:
		return n.cmp.equal(v, r.expand(k)), nil
	case mtContains:
		return n.cmp.contains(v, r.expand(k)), nil
	case mtMatches:
		var caps []string
		if !n.cmp.globMatch(v, r.expand(k), &caps) {
			return false, nil
		}
		r.mvars = caps
		return true, nil
	case mtRegex:
		var re *regexp.Regexp
		if n.regexes != nil {
			re = n.regexes[i]
		} else {
			var err error
			if re, err = compileRegex(r.expand(k), n.cmp); err != nil {
				return false, &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "invalid regular expression: " + err.Error()}
			}
		}
		m := re.FindStringSubmatch(v)
		if m == nil {
			return false, nil
		}
		r.mvars = m
		return true, nil
	}
	return false, nil
}

// foldCacheMin is the length from which a folded value is kept for the
// rest of the run.
const foldCacheMin = 512

// fold returns v under ASCII case folding, from the run's cache for long
// values.
func (r *runner) fold(v string) string {
	if len(v) < foldCacheMin {
		return foldASCII(v)
	}
	key := unsafe.StringData(v)
	if f, ok := r.folded[key]; ok && len(f) == len(v) {
		return f
	}
	f := foldASCII(v)
	if r.folded == nil {
		r.folded = map[*byte]string{}
	}
	r.folded[key] = f
	return f
}
