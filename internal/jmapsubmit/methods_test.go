package jmapsubmit

import (
	"postern/internal/store"
	"slices"
	"testing"
)

// TestFirstChanges: the intermediate state of a /changes cut by
// maxChanges reports every object created up to it.
func TestFirstChanges(t *testing.T) {
	// Five objects created at 1..5, each updated later at 6..10.
	var list []store.ObjectChange
	for i := int64(1); i <= 5; i++ {
		list = append(list, store.ObjectChange{ID: i, CreatedModSeq: uint64(i), ModSeq: uint64(i + 5)})
	}
	since := func(s uint64) []store.ObjectChange {
		out := slices.Clone(list)
		for i := range out {
			out[i].Created = out[i].CreatedModSeq > s
		}
		return out
	}
	got, state := firstChanges(since(0), 2)
	if state != 2 || len(got) != 2 || got[0].ID != 1 || got[1].ID != 2 || !got[0].Created {
		t.Errorf("since 0: %+v state %d", got, state)
	}
	// Since 3: 4 and 5 are new (at 4, 5), 1..3 updated (at 6..8).
	got, state = firstChanges(since(3), 2)
	if state != 5 || got[0].ID != 4 || got[1].ID != 5 {
		t.Errorf("since 3: %+v state %d", got, state)
	}
	got, state = firstChanges(since(3), 4)
	if state != 7 || got[2].ID != 1 || got[3].ID != 2 || got[2].Created {
		t.Errorf("since 3, 4 changes: %+v state %d", got, state)
	}
}
