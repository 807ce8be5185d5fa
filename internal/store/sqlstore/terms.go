package sqlstore

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"postern/internal/store"
)

// The text index (text_index, migration 0009) holds, per body, the set of
// its distinct words: no positions, no copy of the text. A word is a
// maximal run of letters and digits of the text as store.FoldText folds it,
// cut here in Go so that the index and a search split text the same way;
// FTS5's ascii tokenizer then keeps each word whole.
//
// That makes substring search exact for a needle that is one run of
// letters and digits: an occurrence lies inside one word, so the messages
// having a word that contains the needle are exactly the matches. Other
// needles narrow to the messages having a word that contains their longest
// run, whose decoded text is then checked.

const (
	// maxTermsPerColumn bounds the distinct words indexed per body and
	// column; a body with more is marked partial (textPartial) and its
	// text is checked at search time.
	maxTermsPerColumn = 20000
	// maxTermLen bounds one word; a longer one (a run of base64 in a text
	// part) is not indexed and makes the body partial.
	maxTermLen = 128
)

// text_state values of blobs.
const (
	textIndexed    = 0 // every word is in text_index
	textPartial    = 1 // some are: a search checks the text
	textNotIndexed = 2 // none yet (the upgrade's indexer has not come by)
)

// indexTerms returns the distinct words of text, space-separated, and
// whether they are all of them.
func indexTerms(text string) (string, bool) {
	if text == "" {
		return "", true
	}
	seen := make(map[string]struct{}, 64)
	var out strings.Builder
	word := make([]byte, 0, 32)
	complete := true
	flush := func() {
		if len(word) == 0 {
			return
		}
		switch {
		case len(word) > maxTermLen:
			complete = false
		default:
			if _, ok := seen[string(word)]; !ok {
				if len(seen) >= maxTermsPerColumn {
					complete = false
				} else {
					seen[string(word)] = struct{}{}
					if out.Len() > 0 {
						out.WriteByte(' ')
					}
					out.Write(word)
				}
			}
		}
		word = word[:0]
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
				word = append(word, c)
			case 'A' <= c && c <= 'Z':
				word = append(word, c+'a'-'A')
			default:
				flush()
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if isWordRune(r) {
			word = utf8.AppendRune(word, unicode.ToLower(unicode.ToUpper(r)))
		} else {
			flush()
		}
	}
	flush()
	return out.String(), complete
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

// needleRuns splits a folded needle the way indexTerms splits text.
func needleRuns(folded string) []string {
	return strings.FieldsFunc(folded, func(r rune) bool { return !isWordRune(r) })
}

// textTerms are the index rows of one body.
type textTerms struct {
	body, headers string
	complete      bool
}

func termsOf(meta store.MessageMeta) textTerms {
	b, bc := indexTerms(meta.SearchText)
	h, hc := indexTerms(meta.Headers)
	return textTerms{body: b, headers: h, complete: bc && hc}
}
