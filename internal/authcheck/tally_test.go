package authcheck

import (
	"testing"
	"time"
)

func TestTallyCountsAndBounds(t *testing.T) {
	ta := NewTally()
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	c := Count{Day: day, HeaderFrom: "a.test", SourceIP: "192.0.2.1", Disposition: "none", DKIM: "pass", SPF: "fail"}
	ta.Add([]Count{c, c})
	other := c
	other.SourceIP = "192.0.2.2"
	ta.Add([]Count{other})
	rows, dropped := ta.Take()
	if rows[c] != 2 || rows[other] != 1 || dropped != 0 {
		t.Errorf("rows %v dropped %d", rows, dropped)
	}
	if rows, _ := ta.Take(); len(rows) != 0 {
		t.Errorf("Take did not start again: %v", rows)
	}
	for i := range maxTallyRows + 5 {
		x := c
		x.SourceIP = time.Unix(int64(i), 0).String() // distinct sources
		ta.Add([]Count{x})
	}
	ta.Add([]Count{c}) // a row not held yet: dropped too
	rows, dropped = ta.Take()
	if len(rows) != maxTallyRows || dropped != 6 {
		t.Errorf("%d rows held, %d dropped; want %d and 6", len(rows), dropped, maxTallyRows)
	}
}
