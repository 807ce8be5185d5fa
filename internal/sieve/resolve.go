package sieve

import (
	"regexp"
	"strings"
)

// resolve checks what the command table cannot express and fills the
// node's resolved fields.
func (v *validator) resolve(n *node) *Error {
	if err := v.resolveMatch(n); err != nil {
		return err
	}
	switch n.name {
	case "redirect":
		if s := n.args[0].strs[0]; s.constant() && !validAddress(s.lit) {
			return errAt(n.args[0].pos, "redirect: invalid address %q", s.lit)
		}
	case "fileinto":
		if s := n.args[0].strs[0]; s.constant() && s.lit == "" {
			return errAt(n.args[0].pos, "fileinto: empty mailbox name")
		}
	case "set":
		return v.resolveSet(n)
	case "global":
		for _, s := range n.args[0].strs {
			if !s.constant() || !validIdent(strings.ToLower(s.lit)) {
				return errAt(n.args[0].pos, "global: invalid variable name %q", s.lit)
			}
			v.globals[strings.ToLower(s.lit)] = true
		}
	case "setflag", "addflag", "removeflag", "hasflag":
		if len(n.args) == 2 {
			if err := v.needs(n.pos, "variables", "a variable name in "+quote(n.name)); err != nil {
				return err
			}
			for _, s := range n.args[0].strs {
				if !s.constant() || !validVarName(strings.ToLower(s.lit), v.required["include"]) {
					return errAt(n.args[0].pos, "%s: invalid variable name %q", n.name, s.lit)
				}
			}
		}
	case "vacation":
		return v.resolveVacation(n)
	case "include":
		return v.resolveInclude(n)
	case "envelope":
		for _, s := range n.args[0].strs {
			if !s.constant() {
				continue
			}
			switch strings.ToLower(s.lit) {
			case "from", "to", "auth":
			default:
				return errAt(n.args[0].pos, "envelope: unknown envelope part %q", s.lit)
			}
		}
	case "address":
		for _, s := range n.args[0].strs {
			if s.constant() && !addressHeader(s.lit) {
				return errAt(n.args[0].pos, "address: header %q does not hold addresses", s.lit)
			}
		}
	case "size":
		if !n.has("over") && !n.has("under") {
			return errAt(n.pos, "size needs :over or :under")
		}
	case "date", "currentdate":
		return v.resolveDate(n)
	case "addheader", "deleteheader":
		if s := n.args[0].strs[0]; s.constant() && !validFieldName(s.lit) {
			return errAt(n.args[0].pos, "%s: invalid header field name %q", n.name, s.lit)
		}
		if n.name == "deleteheader" && n.has("count") {
			return errAt(n.tag("count").pos, "deleteheader: \":count\" cannot be used")
		}
		if n.name == "deleteheader" && len(n.args) < 2 && (n.has("is") || n.has("contains") || n.has("matches") || n.has("regex") || n.has("count") || n.has("value")) {
			return errAt(n.pos, "deleteheader: a match type needs value patterns")
		}
	case "duplicate":
		if t := n.tag("header"); t != nil && t.v.strs[0].constant() && !validFieldName(t.v.strs[0].lit) {
			return errAt(t.pos, "duplicate: invalid header field name %q", t.v.strs[0].lit)
		}
	}
	return nil
}

// resolveMatch sets comparator, match type, address part and index.
func (v *validator) resolveMatch(n *node) *Error {
	if t := n.tag("comparator"); t != nil {
		s := t.v.strs[0]
		if !s.constant() {
			return errAt(t.pos, "comparator name must be constant")
		}
		c, ok := parseComparator(s.lit)
		if !ok {
			return errAt(t.v.pos, "unknown comparator %q", s.lit)
		}
		if c == cmpNumeric && !v.required["comparator-i;ascii-numeric"] {
			return errAt(t.v.pos, "comparator %q needs require \"comparator-i;ascii-numeric\"", s.lit)
		}
		n.cmp = c
	}
	for name, mt := range map[string]matchType{"contains": mtContains, "matches": mtMatches, "count": mtCount, "value": mtValue, "regex": mtRegex} {
		t := n.tag(name)
		if t == nil {
			continue
		}
		n.mt = mt
		if mt == mtCount || mt == mtValue {
			s := t.v.strs[0]
			r, ok := parseRel(s.lit)
			if !s.constant() || !ok {
				return errAt(t.v.pos, "invalid relational operator %q", s.lit)
			}
			n.rel = r
		}
		if n.cmp == cmpNumeric && (mt == mtContains || mt == mtMatches || mt == mtRegex) {
			return errAt(t.pos, "comparator \"i;ascii-numeric\" cannot be used with \":%s\"", name)
		}
	}
	for name, p := range map[string]addrPart{"localpart": partLocal, "domain": partDomain, "user": partUser, "detail": partDetail} {
		if n.has(name) {
			n.part = p
		}
	}
	if t := n.tag("index"); t != nil {
		if t.v.num < 1 || t.v.num > 1<<20 {
			return errAt(t.v.pos, ":index must be a positive number")
		}
		n.index = int(t.v.num)
	}
	if t := n.tag("last"); t != nil && n.name != "addheader" && n.name != "duplicate" {
		if n.index == 0 {
			return errAt(t.pos, ":last needs :index")
		}
		n.last = true
	}
	if n.mt == mtRegex {
		return v.compileRegexes(n)
	}
	return nil
}

// keyArg is the position of the key list among a test's positional
// arguments.
func keyArg(n *node) int {
	switch n.name {
	case "deleteheader":
		if len(n.args) < 2 {
			return -1
		}
		return 1
	}
	return len(n.args) - 1
}

func (v *validator) compileRegexes(n *node) *Error {
	k := keyArg(n)
	if k < 0 {
		return nil
	}
	keys := n.args[k]
	for _, s := range keys.strs {
		if !s.constant() {
			n.regexes = nil
			return nil
		}
		re, err := compileRegex(s.lit, n.cmp)
		if err != nil {
			return errAt(keys.pos, "invalid regular expression %q: %v", s.lit, err)
		}
		n.regexes = append(n.regexes, re)
	}
	return nil
}

// compileRegex compiles a POSIX extended regular expression with Go's
// RE2 engine (draft-ietf-sieve-regex §3): leftmost-longest as POSIX,
// case-insensitive under i;ascii-casemap. Back-references, which RE2
// lacks, are errors.
func compileRegex(expr string, c comparator) (*regexp.Regexp, error) {
	if c != cmpOctet {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	re.Longest()
	return re, nil
}

func (v *validator) resolveSet(n *node) *Error {
	name := n.args[0].strs[0]
	if !name.constant() || !validVarName(strings.ToLower(name.lit), v.required["include"]) {
		return errAt(n.args[0].pos, "set: invalid variable name %q", name.lit)
	}
	return nil
}

// validVarName accepts an identifier, or global.identifier with include.
func validVarName(s string, include bool) bool {
	if rest, ok := strings.CutPrefix(s, "global."); ok && include {
		return validIdent(rest)
	}
	return validIdent(s)
}

func (v *validator) resolveVacation(n *node) *Error {
	if t := n.tag("from"); t != nil && t.v.strs[0].constant() && !validAddressField(t.v.strs[0].lit) {
		return errAt(t.v.pos, "vacation: invalid :from address %q", t.v.strs[0].lit)
	}
	if t := n.tag("addresses"); t != nil {
		for _, s := range t.v.strs {
			if s.constant() && !validAddressField(s.lit) {
				return errAt(t.v.pos, "vacation: invalid address %q in :addresses", s.lit)
			}
		}
	}
	return nil
}

// validAddress checks a redirect target loosely: local@domain, no
// spaces or angle brackets around.
func validAddress(s string) bool {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	return !strings.ContainsAny(s, " \t\r\n<>,")
}

// validAddressField accepts an address alone or with a display name.
func validAddressField(s string) bool {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.LastIndexByte(s, '>')
		if j < i {
			return false
		}
		return validAddress(s[i+1 : j])
	}
	return validAddress(s)
}

// validFieldName checks an RFC 5322 field name: printable ASCII but ':'.
func validFieldName(s string) bool {
	if s == "" || len(s) > 997 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 32 || s[i] >= 127 || s[i] == ':' {
			return false
		}
	}
	return true
}

// addressHeader tells whether the address test may look at a header
// (RFC 5228 §5.1): not those known to hold something else.
func addressHeader(name string) bool {
	switch strings.ToLower(name) {
	case "subject", "date", "message-id", "received", "in-reply-to", "references",
		"comments", "keywords", "mime-version", "content-type", "content-transfer-encoding",
		"content-disposition", "content-id", "content-description", "x-mailer", "user-agent":
		return false
	}
	return validFieldName(name)
}
