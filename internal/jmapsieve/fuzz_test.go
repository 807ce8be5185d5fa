package jmapsieve

import (
	"encoding/json"
	"testing"

	"postern/internal/store"
)

// FuzzDecoders feeds one input to every decoder of client input in this
// package: the VacationResponse and SieveScript patches, the filters of
// the /query methods, the Quota state and the script ids. None may panic,
// and what they accept must be consistent.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{
		`{"isEnabled":true,"fromDate":"2026-12-01T10:00:00.25Z","toDate":null,"subject":"x","textBody":null,"htmlBody":"<p>"}`,
		`{"id":"singleton","isEnabled":"yes"}`, `{"name":null,"blobId":"s1-0123456789abcdef","isActive":false}`,
		`{"operator":"AND","conditions":[{"name":"a"},{"operator":"NOT","conditions":[{"isActive":true}]}]}`,
		`{"scope":["account"],"resourceType":"octets","type":"Mail"}`, `null`, `[]`, `"x"`, `{"a/b":1}`,
		"1.2.3.4", "s12-0123456789abcdef", "s0-x", "2026-12-01T10:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		raw := json.RawMessage(in)
		var v store.Vacation
		dates, bad, ok := decodeVacationPatch(raw, &v)
		if ok && len(bad) == 0 {
			for p, s := range dates {
				if _, ok := parseUTCDate(s); !ok {
					t.Errorf("accepted %s %q", p, s)
				}
			}
		}
		decodeScriptPatch(raw, nil)
		decodeScriptPatch(raw, &store.SieveScript{ID: 1, Name: "a"})
		for _, check := range []func(map[string]json.RawMessage) error{checkQuotaFilter, checkScriptFilter} {
			if fl, err := decodeFilter(raw, check); err == nil {
				fl.matches(scriptMatches(store.SieveScript{Name: "a"}))
				fl.matches(quotaMatches(quota{id: "storage", name: "a"}))
			}
		}
		if a, ok := parseQuotaState(in); ok && quotaState(a) != in {
			t.Errorf("state %q reads back as %q", in, quotaState(a))
		}
		if id, hash, ok := parseScriptBlobID(in); ok && scriptID(id)+"-"+hash != in {
			t.Errorf("blob id %q reads back as %d %s", in, id, hash)
		}
		if id, ok := parseScriptID(in); ok && scriptID(id) != in {
			t.Errorf("script id %q reads back as %d", in, id)
		}
		parseUTCDate(in)
	})
}

// A filter tree is bounded: a deep one is refused, not recursed into.
func TestFilterLimits(t *testing.T) {
	deep := `{"name":"a"}`
	for i := 0; i < 50; i++ {
		deep = `{"operator":"NOT","conditions":[` + deep + `]}`
	}
	if _, err := decodeFilter(json.RawMessage(deep), checkScriptFilter); err == nil {
		t.Error("a filter 50 deep was accepted")
	}
	wide := `{"operator":"OR","conditions":[`
	for i := 0; i < 200; i++ {
		if i > 0 {
			wide += ","
		}
		wide += `{"name":"a"}`
	}
	if _, err := decodeFilter(json.RawMessage(wide+`]}`), checkScriptFilter); err == nil {
		t.Error("a filter of 200 conditions was accepted")
	}
}
