package sieve

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Variables (RFC 5229) and global variables (RFC 6609 §3.4-3.5).

// expand returns a string argument's value with its references
// replaced (RFC 5229 §3); unknown variables are empty.
func (r *runner) expand(s str) string {
	if s.parts == nil {
		return s.lit
	}
	var b strings.Builder
	for _, p := range s.parts {
		switch {
		case p.isNum:
			if p.num < len(r.mvars) {
				b.WriteString(r.mvars[p.num])
			}
		case p.name != "":
			b.WriteString(r.getVar(p.name))
		default:
			b.WriteString(p.lit)
		}
		if b.Len() > maxVarSize*4 {
			break
		}
	}
	return b.String()
}

func (r *runner) expandList(v val) []string {
	out := make([]string, len(v.strs))
	for i, s := range v.strs {
		out[i] = r.expand(s)
	}
	return out
}

// varSlot finds a variable's map and key: "global.x" and names the
// script declared global live in the globals.
func (r *runner) varSlot(name string) (map[string]string, string) {
	if rest, ok := strings.CutPrefix(name, "global."); ok && r.cur.required["include"] {
		return r.globals, rest
	}
	if r.cur.globals[name] {
		return r.globals, name
	}
	return r.locals, name
}

func (r *runner) getVar(name string) string {
	m, k := r.varSlot(name)
	return m[k]
}

func (r *runner) setVar(name, value string) {
	m, k := r.varSlot(name)
	m[k] = truncUTF8(value, maxVarSize)
}

// set runs the set command with its modifiers, applied from the
// highest precedence down (RFC 5229 §4.1).
func (r *runner) set(n *node) error {
	name := strings.ToLower(n.args[0].strs[0].lit)
	v := r.expand(n.args[1].strs[0])
	switch {
	case n.has("lower"):
		v = strings.ToLower(v)
	case n.has("upper"):
		v = strings.ToUpper(v)
	}
	switch {
	case n.has("lowerfirst"):
		v = mapFirst(v, unicode.ToLower)
	case n.has("upperfirst"):
		v = mapFirst(v, unicode.ToUpper)
	}
	switch {
	case n.has("quotewildcard"):
		v = quoteWildcard(v)
	case n.has("quoteregex"):
		v = regexp.QuoteMeta(v)
	}
	if n.has("length") {
		v = strconv.Itoa(utf8.RuneCountInString(v))
	}
	r.setVar(name, v)
	return nil
}

func mapFirst(s string, f func(rune) rune) string {
	if s == "" {
		return s
	}
	c, size := utf8.DecodeRuneInString(s)
	return string(f(c)) + s[size:]
}
