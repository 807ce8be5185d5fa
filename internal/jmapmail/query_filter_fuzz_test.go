package jmapmail

import (
	"encoding/json"
	"testing"

	"postern/internal/jmap"
	"postern/internal/query"
)

// FuzzEmailFilter: any JSON a client sends as an Email/query filter is
// decoded or refused with a method error, never a crash, and what is
// decoded stays within the nesting and size limits and translates.
func FuzzEmailFilter(f *testing.F) {
	for _, seed := range []string{
		`null`, `{}`, `{"inMailbox":"m1"}`, `{"inMailboxOtherThan":["m1","#new"]}`,
		`{"before":"2024-01-01T00:00:00Z","after":"2023-01-01T00:00:00Z","minSize":1,"maxSize":9}`,
		`{"allInThreadHaveKeyword":"$seen","someInThreadHaveKeyword":"a","noneInThreadHaveKeyword":"b"}`,
		`{"hasKeyword":"$flagged","notKeyword":"x","hasAttachment":true}`,
		`{"text":"a","from":"b","to":"c","cc":"d","bcc":"e","subject":"f","body":"g","header":["X-A","v"]}`,
		`{"operator":"NOT","conditions":[{"operator":"OR","conditions":[{"text":"x"},{"operator":"AND","conditions":[]}]}]}`,
		`{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[{"operator":"AND","conditions":[]}]}]}]}]}]}]}]}]}]}]}]}`,
		`{"operator":"XOR","conditions":[]}`, `{"header":[]}`, `{"before":"x"}`, `[1]`, `"s"`, `{"operator":"AND"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		flt, err := parseEmailFilter(json.RawMessage(raw))
		if err != nil {
			if _, ok := err.(*jmap.Error); !ok {
				t.Fatalf("error %T %v is not a method error", err, err)
			}
			return
		}
		depth, nodes := filterShape(flt, 0)
		if depth > maxEmailFilterDepth || nodes > maxEmailFilterNodes {
			t.Fatalf("filter of depth %d, %d nodes decoded", depth, nodes)
		}
		ts := &threadKeywordSets{all: map[string]query.MessageIDs{}, some: map[string]query.MessageIDs{}}
		c := &jmap.Call{}
		flt.inMailboxes(c, 1)
		flt.criterion(c, 1, ts)
		flt.onlyInMailbox()
		var subj, body []string
		flt.searchTerms(&subj, &body)
	})
}

// filterShape returns the depth of operators and the number of nodes.
func filterShape(f *emailFilter, depth int) (int, int) {
	if f == nil {
		return depth, 0
	}
	deepest, n := depth, 1
	for _, s := range f.conds {
		d, k := filterShape(s, depth+1)
		deepest, n = max(deepest, d), n+k
	}
	return deepest, n
}
