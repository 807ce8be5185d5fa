package authcheck

import "sync"

// maxTallyRows bounds the distinct rows held between flushes: a flood of
// sources loses counts, never memory.
const maxTallyRows = 100000

// Tally adds up DMARC evaluations in memory between flushes to the store,
// so counting costs no write per message. It is safe for concurrent use.
type Tally struct {
	mu      sync.Mutex
	rows    map[Count]int64
	dropped int64
}

// NewTally returns an empty tally.
func NewTally() *Tally { return &Tally{rows: map[Count]int64{}} }

// Add counts evaluations (deliver.CountRecorder).
func (t *Tally) Add(counts []Count) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range counts {
		if _, ok := t.rows[c]; !ok && len(t.rows) >= maxTallyRows {
			t.dropped++
			continue
		}
		t.rows[c]++
	}
}

// Take returns the counts so far and starts again; dropped is how many
// evaluations did not fit.
func (t *Tally) Take() (rows map[Count]int64, dropped int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rows, dropped = t.rows, t.dropped
	t.rows, t.dropped = map[Count]int64{}, 0
	return rows, dropped
}
