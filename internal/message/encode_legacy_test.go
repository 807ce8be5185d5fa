package message

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// testdata/legacy holds the JSON stored forms (encoding version 1) that
// Marshal wrote for encodeCorpus before the binary encoding: databases
// hold them, so they must keep decoding to what Parse gives today.
func TestLegacyJSONStillDecodes(t *testing.T) {
	c := encodeCorpus()
	for _, name := range corpusNames(c) {
		p := parse(t, c[name])
		envJSON := readLegacy(t, name+".env.json")
		bodyJSON := readLegacy(t, name+".body.json")
		env, err := UnmarshalEnvelope(envJSON)
		if err != nil {
			t.Fatalf("%s: envelope: %v", name, err)
		}
		if !reflect.DeepEqual(env, p.Envelope) {
			t.Errorf("%s: envelope:\n got %#v\nwant %#v", name, env, p.Envelope)
		}
		body, err := UnmarshalBody(bodyJSON)
		if err != nil {
			t.Fatalf("%s: body: %v", name, err)
		}
		if !reflect.DeepEqual(body, p.Body) {
			t.Errorf("%s: body:\n got %#v\nwant %#v", name, body, p.Body)
		}
	}
}

func readLegacy(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "legacy", name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"v":1`) {
		t.Fatalf("%s is not a version 1 JSON form", name)
	}
	return b
}
