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
// whether they are all of them. Words repeat a lot in mail, so the set is
// keyed by a hash computed while the word is read; a hash already seen is
// confirmed against the word's bytes.
func indexTerms(texts ...string) (string, bool) {
	ws := wordSet{seen: make(map[uint64]int32, 128), complete: true}
	word := make([]byte, 0, 32)
	for _, text := range texts {
		ws.cut(text, word)
	}
	return ws.out.String(), ws.complete
}

// cut adds the words of text; word is scratch space.
func (ws *wordSet) cut(text string, word []byte) {
	word = word[:0]
	h := uint64(fnvOffset)
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				ws.add(word, h)
				word, h = word[:0], fnvOffset
				continue
			}
			word = append(word, c)
			h = (h ^ uint64(c)) * fnvPrime
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if !isWordRune(r) {
			ws.add(word, h)
			word, h = word[:0], fnvOffset
			continue
		}
		start := len(word)
		word = utf8.AppendRune(word, unicode.ToLower(unicode.ToUpper(r)))
		for _, b := range word[start:] {
			h = (h ^ uint64(b)) * fnvPrime
		}
	}
	ws.add(word, h)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// wordSet collects distinct words in order of first appearance.
type wordSet struct {
	// recent is a direct-mapped cache in front of seen: most words of a
	// message repeat, and an array probe costs less than a map lookup.
	recent [512]struct {
		h   uint64
		off int32
	}
	seen     map[uint64]int32 // hash -> offset of the word in out
	other    map[string]struct{}
	out      strings.Builder
	n        int
	complete bool
}

func (ws *wordSet) add(word []byte, h uint64) {
	switch {
	case len(word) == 0:
		return
	case len(word) > maxTermLen:
		ws.complete = false
		return
	}
	slot := &ws.recent[h&511]
	if slot.h == h && slot.off > 0 && ws.holds(slot.off-1, word) {
		return
	}
	if off, ok := ws.seen[h]; ok {
		if ws.holds(off, word) {
			*slot = struct {
				h   uint64
				off int32
			}{h, off + 1}
			return
		}
		// Another word with the same hash: keep exactness the slow way.
		if ws.other == nil {
			ws.other = map[string]struct{}{}
		}
		if _, ok := ws.other[string(word)]; ok {
			return
		}
		ws.other[string(word)] = struct{}{}
	}
	if ws.n >= maxTermsPerColumn {
		ws.complete = false
		return
	}
	if ws.out.Len() > 0 {
		ws.out.WriteByte(' ')
	}
	if _, ok := ws.seen[h]; !ok {
		ws.seen[h] = int32(ws.out.Len())
	}
	ws.out.Write(word)
	ws.n++
}

// holds tells whether the word at offset off of out is word.
func (ws *wordSet) holds(off int32, word []byte) bool {
	have := ws.out.String()[off:]
	return len(have) >= len(word) && have[:len(word)] == string(word) && (len(have) == len(word) || have[len(word)] == ' ')
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
	h, hc := indexTerms(meta.Headers)
	if meta.TextParts == nil {
		b, bc := indexTerms(meta.SearchText)
		return textTerms{body: b, headers: h, complete: bc && hc}
	}
	b, bc := indexTerms(meta.TextParts...)
	return textTerms{body: b, headers: h, complete: bc && hc && !meta.TextCut}
}
