package jmapmail

import (
	"slices"
	"strings"

	"postern/internal/store"
)

// JMAP keywords and IMAP flags (RFC 8621 §4.1.1), both ways in one place:
// Email/get answers keywordsOf, Email/set and Email/import store what
// flagsOfKeywords gives.

// systemKeywords are the JMAP keywords that are IMAP system flags.
// \Deleted has no keyword: JMAP never shows it, and an update keeps it.
var systemKeywords = []struct {
	keyword string
	flag    store.Flags
}{
	{"$seen", store.FlagSeen}, {"$flagged", store.FlagFlagged},
	{"$answered", store.FlagAnswered}, {"$draft", store.FlagDraft},
}

// keywordsOf is the keywords of m: the system flags under their JMAP
// names, keywords lower-cased (JMAP keywords are case-insensitive and
// returned in lower case).
func keywordsOf(m store.Message) map[string]bool {
	kw := make(map[string]bool, len(m.Keywords)+2)
	for _, s := range systemKeywords {
		if m.Flags&s.flag != 0 {
			kw[s.keyword] = true
		}
	}
	for _, k := range m.Keywords {
		kw[strings.ToLower(k)] = true
	}
	return kw
}

// flagsOfKeywords is keywordsOf the other way round: the system flags and
// the IMAP keywords of a set of JMAP keywords (lower case, checked with
// validKeyword), keywords sorted.
func flagsOfKeywords(kw map[string]bool) (store.Flags, []string) {
	var flags store.Flags
	var rest []string
	for k := range kw {
		k = strings.ToLower(k)
		system := false
		for _, s := range systemKeywords {
			if s.keyword == k {
				flags |= s.flag
				system = true
			}
		}
		if !system {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return flags, rest
}

// maxKeywordLen bounds a keyword (RFC 8621 §4.1.1: 1 to 255 characters).
const maxKeywordLen = 255

// validKeyword tells whether k may be a keyword: 1 to 255 characters of
// ASCII %x21-%x7e without ( ) { ] % * " \ (RFC 8621 §4.1.1, the IMAP
// atom; without "\" no IMAP system flag name passes).
func validKeyword(k string) bool {
	if k == "" || len(k) > maxKeywordLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){]%*"\`, c) >= 0 {
			return false
		}
	}
	return true
}
