package sqlstore

import (
	"context"
	"math/rand"
	"slices"
	"testing"

	"postern/internal/store"
)

func TestUIDRuns(t *testing.T) {
	cases := []struct {
		uids, exist []uint32
		want        [][2]uint32
	}{
		{[]uint32{1, 2, 3}, []uint32{1, 2, 3}, [][2]uint32{{1, 3}}},
		{[]uint32{1, 3, 5}, []uint32{1, 3, 5}, [][2]uint32{{1, 5}}}, // gaps hold no message
		{[]uint32{1, 5}, []uint32{1, 3, 5}, [][2]uint32{{1, 1}, {5, 5}}},
		{[]uint32{2, 3, 9}, []uint32{3, 4, 9}, [][2]uint32{{3, 3}, {9, 9}}},
		{[]uint32{7}, nil, nil},
	}
	for _, c := range cases {
		if got := uidRuns(c.uids, c.exist); !slices.Equal(got, c.want) {
			t.Errorf("uidRuns(%v, %v) = %v, want %v", c.uids, c.exist, got, c.want)
		}
	}
}

// The set-based flag update does what the row-by-row one did: random
// mailboxes with gaps, random UID sets, every operation, with and without
// UNCHANGEDSINCE, checked against a model.
func TestUpdateFlagsModel(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	s.AddDomain(ctx, "example.org")
	a, _ := s.AddAccount(ctx, "a@example.org", store.Credentials{})
	inbox, _ := s.Mailbox(ctx, a.ID, "INBOX")
	for range 60 {
		deliverBytes(t, s, []byte("x"), store.MessageMeta{}, store.DeliveryTarget{AccountID: a.ID})
	}
	var gone []uint32
	for u := uint32(3); u <= 60; u += 7 {
		gone = append(gone, u)
	}
	if _, _, err := s.Expunge(ctx, inbox.ID, gone); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for round := range 200 {
		before, _ := s.MessageFlags(ctx, inbox.ID, 1, 0)
		// Sparse sets (under half their span) and dense ones (every
		// message, or most) take different paths.
		var uids []uint32
		density := []int{2, 6, 10}[round%3]
		for u := uint32(1); u <= 62; u++ {
			if rng.Intn(10) < density {
				uids = append(uids, u)
			}
		}
		if len(uids) == 0 {
			continue
		}
		upd := store.FlagUpdate{Op: store.FlagOp(1 + rng.Intn(3)), Flags: store.Flags(rng.Intn(32))}
		if rng.Intn(4) == 0 {
			upd.UnchangedSince = before[rng.Intn(len(before))].ModSeq
		}
		res, err := s.UpdateFlags(ctx, inbox.ID, uids, upd)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := s.MessageFlags(ctx, inbox.ID, 1, 0)
		changed := map[uint32]bool{}
		afterByUID := map[uint32]store.Message{}
		for _, m := range after {
			afterByUID[m.UID] = m
		}
		for i, m := range res.Changed {
			changed[m.UID] = true
			if a := afterByUID[m.UID]; a.Flags != m.Flags || a.ModSeq != m.ModSeq || (i > 0 && res.Changed[i-1].UID >= m.UID) {
				t.Fatalf("round %d: reported change %+v, stored %+v", round, m, a)
			}
		}
		failed := map[uint32]bool{}
		for _, u := range res.Failed {
			failed[u] = true
		}
		for i, m := range before {
			want := m.Flags
			asked := slices.Contains(uids, m.UID)
			if asked && (upd.UnchangedSince == 0 || m.ModSeq <= upd.UnchangedSince) {
				switch upd.Op {
				case store.FlagsAdd:
					want |= upd.Flags
				case store.FlagsRemove:
					want &^= upd.Flags
				case store.FlagsReplace:
					want = upd.Flags
				}
			}
			if after[i].Flags != want {
				t.Fatalf("round %d %+v: UID %d flags %v, want %v", round, upd, m.UID, after[i].Flags, want)
			}
			if !changed[m.UID] && after[i].ModSeq != m.ModSeq {
				t.Fatalf("round %d: UID %d not reported changed, modseq %d -> %d", round, m.UID, m.ModSeq, after[i].ModSeq)
			}
			if changed[m.UID] != (want != m.Flags) || (changed[m.UID] && after[i].ModSeq <= m.ModSeq) {
				t.Fatalf("round %d: UID %d reported changed=%v (flags %v -> %v)", round, m.UID, changed[m.UID], m.Flags, want)
			}
			if failed[m.UID] != (asked && upd.UnchangedSince != 0 && m.ModSeq > upd.UnchangedSince) {
				t.Fatalf("round %d: UID %d failed=%v", round, m.UID, failed[m.UID])
			}
		}
	}
}
