package message

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The stored forms come back from the database, where a bug, a disk or a
// hand-edited row may have damaged them: no form may panic the decoders,
// and whatever decodes must encode again to a form that decodes to the
// same value. Allocation bounds are checked by TestDecodeMemoryBounded.

func FuzzUnmarshalEnvelope(f *testing.F) {
	for _, seed := range storedSeeds(f, "env") {
		f.Add(seed)
	}
	f.Add(pad(formHeader(3), 10))
	f.Add(pad(formHeader(1<<62), 20))
	f.Fuzz(func(t *testing.T, form []byte) {
		if env, err := UnmarshalEnvelope(form); err == nil {
			roundTrip(t, "fuzzed envelope", env, nil)
		}
	})
}

func FuzzUnmarshalBody(f *testing.F) {
	for _, seed := range storedSeeds(f, "body") {
		f.Add(seed)
	}
	f.Add(pad(formHeader(1, 0, 0, 0, 0, 0), 18))
	f.Add(pad(formHeader(2, 1, 1, 1, 1, 1), 60))
	f.Add(nestedForm(20))
	f.Fuzz(func(t *testing.T, form []byte) {
		if body, err := UnmarshalBody(form); err == nil {
			roundTrip(t, "fuzzed body", nil, body)
		}
	})
}

// storedSeeds returns the stored forms of one kind ("env" or "body") of
// every corpus message: the binary form Marshal writes, and the version 1
// JSON form from testdata/legacy.
func storedSeeds(f *testing.F, kind string) [][]byte {
	c := encodeCorpus()
	var seeds [][]byte
	for _, name := range corpusNames(c) {
		p, err := Parse(strings.NewReader(c[name]), DefaultLimits())
		if err != nil {
			f.Fatal(err)
		}
		if kind == "env" {
			seeds = append(seeds, p.Envelope.Marshal())
		} else {
			seeds = append(seeds, p.Body.Marshal())
		}
		legacy, err := os.ReadFile(filepath.Join("testdata", "legacy", name+"."+kind+".json"))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, legacy)
	}
	return seeds
}
