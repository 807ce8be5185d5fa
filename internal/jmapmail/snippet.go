package jmapmail

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"strings"
	"unicode/utf8"

	"postern/internal/jmap"
	"postern/internal/message"
	"postern/internal/store"
)

// SearchSnippet/get (RFC 8621 §5): the subject and a preview of each
// email with the terms of the filter's text, subject and body conditions
// (outside NOT) wrapped in <mark></mark>, the rest HTML-escaped. Terms are
// found as the store's search finds them: substrings, case folded
// (store.FoldText). The preview is the stored preview when a term is in
// it; otherwise the message's decoded text is read (as parsing at
// delivery made it) and a window around the first match is shown. A
// field without a match is null.

// snippetWindow is the length of a preview cut from the text, in octets
// (RFC 8621 §5 asks at most 255 characters).
const snippetWindow = 255

type snippetArgs struct {
	AccountID string          `json:"accountId"`
	Filter    json.RawMessage `json:"filter"`
	EmailIDs  *[]string       `json:"emailIds"`
}

type snippet struct {
	EmailID string  `json:"emailId"`
	Subject *string `json:"subject"`
	Preview *string `json:"preview"`
}

type snippetResponse struct {
	AccountID string    `json:"accountId"`
	List      []snippet `json:"list"`
	NotFound  []string  `json:"notFound"`
}

func (h *handler) searchSnippetGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a snippetArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	f, err := parseEmailFilter(a.Filter)
	if err != nil {
		return nil, err
	}
	if a.EmailIDs == nil {
		return nil, jmap.NewError(jmap.InvalidArguments, "emailIds is required")
	}
	ids := dedup(*a.EmailIDs)
	if err := c.CheckGet(len(ids)); err != nil {
		return nil, err
	}
	var subjectTerms, bodyTerms []string
	f.searchTerms(&subjectTerms, &bodyTerms)
	want := make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, ok := parseID(resolveCreated(c, id), 'e'); ok {
			want = append(want, n)
		}
	}
	found, err := h.st.MessagesByID(ctx, acct, want)
	if err != nil {
		return nil, storeErr(err)
	}
	rows := make(map[int64]store.Message, len(found))
	for _, m := range found {
		rows[m.ID] = m
	}
	resp := snippetResponse{AccountID: a.AccountID, List: []snippet{}, NotFound: []string{}}
	for _, id := range ids {
		n, _ := parseID(resolveCreated(c, id), 'e')
		m, ok := rows[n]
		if !ok {
			resp.NotFound = append(resp.NotFound, id)
			continue
		}
		s := snippet{EmailID: id}
		if len(subjectTerms) > 0 {
			if env, err := message.UnmarshalEnvelope(m.Envelope); err == nil {
				s.Subject = highlight(env.DecodedSubject(), subjectTerms)
			}
		}
		if len(bodyTerms) > 0 {
			if s.Preview = highlight(m.Preview, bodyTerms); s.Preview == nil {
				s.Preview = h.textSnippet(ctx, m, bodyTerms)
			}
		}
		resp.List = append(resp.List, s)
	}
	return resp, nil
}

// textSnippet reads the decoded text of m and highlights a window of it
// around the first term found; nil when none is there.
func (h *handler) textSnippet(ctx context.Context, m store.Message, terms []string) *string {
	rc, err := h.st.OpenBlob(ctx, m.BlobID)
	if err != nil {
		return nil
	}
	defer rc.Close()
	p, err := message.Parse(rc, message.DefaultLimits())
	if err != nil {
		return nil
	}
	text := p.SearchText
	spans := matches(text, terms)
	if len(spans) == 0 {
		return nil
	}
	start := max(spans[0][0]-snippetWindow/4, 0)
	for start > 0 && !utf8.RuneStart(text[start]) {
		start--
	}
	end := min(start+snippetWindow, len(text))
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end--
	}
	return highlight(text[start:end], terms)
}

// highlight returns s HTML-escaped with every match of a term wrapped in
// <mark></mark>, or nil when no term matches.
func highlight(s string, terms []string) *string {
	spans := matches(s, terms)
	if len(spans) == 0 {
		return nil
	}
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		b.WriteString(html.EscapeString(s[at:sp[0]]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(s[sp[0]:sp[1]]))
		b.WriteString("</mark>")
		at = sp[1]
	}
	b.WriteString(html.EscapeString(s[at:]))
	out := b.String()
	return &out
}

// matches returns the byte spans of s where a term occurs, compared
// folded (store.FoldText), ascending and merged where they overlap.
func matches(s string, terms []string) [][2]int {
	// folded holds s folded; orig[i] is the offset in s of the character
	// whose folded form starts at folded[i] (and len(s) at the end).
	var folded []byte
	orig := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		before := len(folded)
		folded = store.AppendFolded(folded, s[i:i+n])
		for range len(folded) - before {
			orig = append(orig, i)
		}
		i += n
	}
	orig = append(orig, len(s))
	mark := make([]bool, len(folded))
	for _, t := range terms {
		ft := store.AppendFolded(nil, t)
		if len(ft) == 0 {
			continue
		}
		for from := 0; ; {
			i := bytes.Index(folded[from:], ft)
			if i < 0 {
				break
			}
			for j := from + i; j < from+i+len(ft); j++ {
				mark[j] = true
			}
			from += i + 1
		}
	}
	var spans [][2]int
	for i := 0; i < len(mark); {
		if !mark[i] {
			i++
			continue
		}
		j := i
		for j < len(mark) && mark[j] {
			j++
		}
		// Whole characters of s: the end is the start of the character
		// after the last folded byte marked.
		end := len(s)
		if j < len(orig)-1 {
			end = orig[j]
		}
		if end <= orig[i] {
			i = j
			continue // inside one character's folded form
		}
		if l := len(spans) - 1; l >= 0 && spans[l][1] >= orig[i] {
			spans[l][1] = max(spans[l][1], end)
		} else {
			spans = append(spans, [2]int{orig[i], end})
		}
		i = j
	}
	return spans
}
