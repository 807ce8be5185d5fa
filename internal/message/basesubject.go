package message

import "strings"

// maxSubjectLen bounds the subject text the extraction works on: a header
// field can be long, and base subject extraction loops over its prefix.
const maxSubjectLen = 4096

// BaseSubject extracts the base subject of a decoded (UTF-8) subject per
// RFC 5256 §2.1, and tells whether the subject marked a reply or forward
// (a subj-refwd leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper), which
// REFERENCES threading needs (RFC 5256 §3 step 5). The base keeps its
// case: comparing bases is the caller's collation (RFC 5256 uses
// i;unicode-casemap). Only the first 4096 bytes of decoded are looked at.
func BaseSubject(decoded string) (base string, isReply bool) {
	if len(decoded) > maxSubjectLen {
		decoded = strings.ToValidUTF8(decoded[:maxSubjectLen], "")
	}
	// (1) Tabs and continuations become a space; runs of spaces one space.
	s := strings.Join(strings.FieldsFunc(decoded, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}), " ")
	for {
		// (2) Trailing "(fwd)" and WSP.
		for {
			t := strings.TrimRight(s, " ")
			if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
				t, isReply = t[:len(t)-5], true
			}
			if t == s {
				break
			}
			s = t
		}
		// (3)-(5) Leaders and blobs, until neither matches.
		for {
			t, refwd := stripLeader(s)
			if refwd {
				isReply = true
			}
			if b := subjBlobLen(t); b > 0 && b < len(t) {
				t = t[b:] // (4) a leading blob, unless it is all there is
			}
			if t == s {
				break
			}
			s = t
		}
		// (6) "[fwd:" ... "]" wrapper: unwrap and start again at (2).
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s, isReply = s[5:len(s)-1], true
			continue
		}
		return s, isReply
	}
}

// stripLeader removes one subj-leader at the start of s:
//
//	subj-leader = (*subj-blob subj-refwd) / WSP
//	subj-refwd  = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
func stripLeader(s string) (string, bool) {
	if strings.HasPrefix(s, " ") {
		return strings.TrimLeft(s, " "), false
	}
	i := 0
	for {
		b := subjBlobLen(s[i:])
		if b == 0 {
			break
		}
		i += b
	}
	if n := refwdLen(s[i:]); n > 0 {
		return s[i+n:], true
	}
	return s, false
}

// refwdLen is the length of a subj-refwd at the start of s, or 0.
func refwdLen(s string) int {
	i := 0
	switch {
	case len(s) >= 3 && strings.EqualFold(s[:3], "fwd"):
		i = 3
	case len(s) >= 2 && (strings.EqualFold(s[:2], "fw") || strings.EqualFold(s[:2], "re")):
		i = 2
	default:
		return 0
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	i += subjBlobLen(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1
	}
	return 0
}

// subjBlobLen is the length of a subj-blob at the start of s, or 0:
//
//	subj-blob = "[" *BLOBCHAR "]" *WSP ; BLOBCHAR excludes "[" and "]"
func subjBlobLen(s string) int {
	if !strings.HasPrefix(s, "[") {
		return 0
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0
	}
	i := end + 2
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}
