package jmap

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest: any body posted to the API endpoint gets a well-formed JSON
// response or a problem JSON, never a panic.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		`{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":true},"b3ff"]]}`,
		`{"using":[],"methodCalls":[["Core/echo",{"a":[{"b":1},{"b":[2,3]}]},"0"],["Core/echo",{"#x":{"resultOf":"0","name":"Core/echo","path":"/a/*/b"}},"1"]]}`,
		`{"using":[],"methodCalls":[["Core/echo",{"#x":{"resultOf":"0","name":"Core/echo","path":"/~2"}},"0"]],"createdIds":{"a":"b"}}`,
		`{"using":["urn:x"],"methodCalls":[]}`,
		`{"using":[],"methodCalls":[["Nope",{},"0"]]}`,
		`[`, `null`, ``, `{"using":[],"methodCalls":[[1,2,3]]}`,
	} {
		f.Add([]byte(seed))
	}
	s := New(Options{Auth: fakeAuth{}, Limits: Limits{MaxSizeRequest: 1 << 16}})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/jmap/api", bytes.NewReader(body))
		r.SetBasicAuth(alice, "secret")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control")
		}
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("status %d, body not JSON: %v: %q", w.Code, err, w.Body.Bytes())
		}
		ct := w.Header().Get("Content-Type")
		switch {
		case w.Code == 200:
			if _, ok := m["methodResponses"].([]any); !ok || ct != "application/json; charset=utf-8" {
				t.Fatalf("200 without methodResponses: %s", w.Body.Bytes())
			}
		case strings.HasPrefix(ct, "application/problem+json"):
			if typ, _ := m["type"].(string); typ == "" || m["status"] != float64(w.Code) {
				t.Fatalf("problem %s", w.Body.Bytes())
			}
		default:
			t.Fatalf("status %d, Content-Type %q", w.Code, ct)
		}
	})
}
