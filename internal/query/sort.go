package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"postern/internal/message"
	"postern/internal/store"
)

// SortField is what a sort key orders by (RFC 5256 §3, RFC 5957 §3,
// RFC 8621 §4.4.2). Strings compare under i;unicode-casemap (RFC 5051);
// a missing field sorts as the empty string.
type SortField uint8

const (
	// SortArrival is the internal date (JMAP receivedAt).
	SortArrival SortField = iota + 1
	// SortDate is the sent date, in UTC; the internal date when the Date
	// field is missing or unusable (RFC 5256 §2.2; JMAP sentAt).
	SortDate
	// SortFrom, SortTo and SortCc are the local part of the first
	// address of the field (RFC 5256 §3).
	SortFrom
	SortTo
	SortCc
	// SortSubject is the base subject (RFC 5256 §2.1).
	SortSubject
	// SortSize is the size in octets.
	SortSize
	// SortDisplayFrom and SortDisplayTo are the display name of the first
	// address, or its address when it has none (RFC 5957 §2; JMAP's from
	// and to).
	SortDisplayFrom
	SortDisplayTo
	// SortHasKeyword puts messages without SortKey.Keyword (or, when
	// SortKey.Flags is set, without those flags) before those with it
	// (JMAP hasKeyword).
	SortHasKeyword
	// SortInSet puts messages whose id is not in SortKey.IDs before
	// those in it (JMAP allInThreadHaveKeyword and
	// someInThreadHaveKeyword, with the set decided over the account).
	SortInSet
)

// Collation is how a string sort key compares (RFC 4790).
type Collation uint8

const (
	// CollateUnicodeCasemap is i;unicode-casemap (RFC 5051), the default.
	CollateUnicodeCasemap Collation = iota
	// CollateASCIICasemap is i;ascii-casemap: ASCII letters without case,
	// other octets as they are.
	CollateASCIICasemap
	// CollateASCIINumeric is i;ascii-numeric: the decimal number a string
	// starts with; strings without one sort after every number (RFC 4790
	// §9.1.1).
	CollateASCIINumeric
)

// SortKey is one sort criterion; later keys break the ties of earlier
// ones, and the order of the messages given (UID order for Sort) the
// ties of all (RFC 5256 §3: sequence order).
type SortKey struct {
	Field     SortField
	Reverse   bool
	Keyword   string      // for SortHasKeyword
	Flags     store.Flags // for SortHasKeyword, instead of Keyword
	IDs       MessageIDs  // for SortInSet
	Collation Collation   // for the string keys
}

// Sort returns the messages of q that match its criteria, ordered by
// keys. It reads the light listing, and the cached envelopes of the
// matches only when a key needs them (not for arrival, size or
// keywords), as Order does.
func Sort(ctx context.Context, st Store, q Query, keys []SortKey) ([]store.Message, error) {
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	msgs, err := Search(ctx, st, q, LoadFlags)
	if err != nil {
		return nil, err
	}
	return Order(ctx, st, msgs, keys)
}

// NeedsEnvelope tells whether ordering by keys reads the messages'
// envelopes: Order reads them for light rows, a chunk at a time.
func NeedsEnvelope(keys []SortKey) bool {
	return slices.ContainsFunc(keys, func(k SortKey) bool { return envelopeKey(k.Field) })
}

// Order returns msgs ordered by keys, ties kept in the order given: the
// sort of messages a caller gathered itself (from several mailboxes),
// light rows (LoadFlags) or whole. The envelopes that string and date
// keys need are read for light rows in chunks of UIDs, and only their
// sort values kept: a sort by subject of a large mailbox never holds
// every envelope at once. Light rows must carry MailboxID (LoadFlags
// does; LoadUID does not).
func Order(ctx context.Context, st Store, msgs []store.Message, keys []SortKey) ([]store.Message, error) {
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	items, err := sortItems(ctx, st, msgs, keys, NeedsEnvelope(keys))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b sortItem) int { return compareItems(keys, &a, &b) })
	out := make([]store.Message, len(items))
	for i, it := range items {
		out[i] = msgs[it.pos]
	}
	return out, nil
}

func checkKeys(keys []SortKey) error {
	for _, k := range keys {
		if k.Field < SortArrival || k.Field > SortInSet || k.Collation > CollateASCIINumeric {
			return fmt.Errorf("query: bad sort key %+v: %w", k, store.ErrInvalid)
		}
	}
	return nil
}

func envelopeKey(f SortField) bool {
	return f != SortArrival && f != SortSize && f != SortHasKeyword && f != SortInSet
}

// sortItem is one message with its sort values computed once: strs[i]
// for a string key i, date for SortDate.
type sortItem struct {
	m    *store.Message
	pos  int
	date time.Time
	strs []string
}

// Chunks in which Order reads the envelopes of light rows: at most
// envelopeChunk wanted messages, over a UID range of at most
// envelopeSpan, so that the rows in memory stay few whatever the
// mailbox's size and however sparse the matches.
const (
	envelopeChunk = 512
	envelopeSpan  = 4096
)

func sortItems(ctx context.Context, st Store, msgs []store.Message, keys []SortKey, withEnv bool) ([]sortItem, error) {
	items := make([]sortItem, len(msgs))
	var strs []string
	if withEnv {
		strs = make([]string, len(msgs)*len(keys))
	}
	var light []int // messages without their envelope
	for i := range msgs {
		it := &items[i]
		it.m, it.pos = &msgs[i], i
		if !withEnv {
			continue
		}
		it.strs = strs[i*len(keys) : (i+1)*len(keys)]
		if msgs[i].Envelope == nil {
			light = append(light, i)
			continue
		}
		it.setKeys(keys, envelope(ctx, st, it.m), it.m)
	}
	if len(light) == 0 {
		return items, nil
	}
	err := readEnvelopes(ctx, st, msgs, light, func(i int, full *store.Message) {
		items[i].setKeys(keys, envelope(ctx, st, full), full)
	})
	return items, err
}

// setKeys computes the item's values of the envelope keys.
func (it *sortItem) setKeys(keys []SortKey, env *message.Envelope, m *store.Message) {
	for j, k := range keys {
		switch {
		case k.Field == SortDate:
			it.date = sentDate(env, m)
		case envelopeKey(k.Field):
			it.strs[j] = collationKey(k.Collation, sortString(env, k.Field))
		}
	}
}

// readEnvelopes reads the whole rows of msgs[i] for i in light, by
// mailbox and in UID chunks, and calls fn with each; a message no longer
// there is given as it is (its envelope then comes from its body, or is
// empty). Only the sort values are kept, not the rows.
func readEnvelopes(ctx context.Context, st Store, msgs []store.Message, light []int, fn func(i int, full *store.Message)) error {
	slices.SortFunc(light, func(a, b int) int {
		if r := cmp.Compare(msgs[a].MailboxID, msgs[b].MailboxID); r != 0 {
			return r
		}
		return cmp.Compare(msgs[a].UID, msgs[b].UID)
	})
	for start := 0; start < len(light); {
		first := &msgs[light[start]]
		end := start + 1
		for end < len(light) && end-start < envelopeChunk {
			m := &msgs[light[end]]
			if m.MailboxID != first.MailboxID || m.UID-first.UID >= envelopeSpan {
				break
			}
			end++
		}
		rows, err := st.Messages(ctx, first.MailboxID, first.UID, msgs[light[end-1]].UID)
		if err != nil {
			return err
		}
		j := 0
		for _, i := range light[start:end] {
			for j < len(rows) && rows[j].UID < msgs[i].UID {
				j++
			}
			if j < len(rows) && rows[j].UID == msgs[i].UID {
				fn(i, &rows[j])
			} else {
				fn(i, &msgs[i])
			}
		}
		start = end
	}
	return nil
}

// compareItems orders by each key in turn, then by UID.
func compareItems(keys []SortKey, a, b *sortItem) int {
	for i, k := range keys {
		var r int
		switch k.Field {
		case SortArrival:
			r = a.m.InternalDate.Compare(b.m.InternalDate)
		case SortDate:
			r = a.date.Compare(b.date)
		case SortSize:
			r = cmp.Compare(a.m.Size, b.m.Size)
		case SortHasKeyword:
			r = boolCompare(hasKeyword(a.m, k), hasKeyword(b.m, k))
		case SortInSet:
			r = boolCompare(k.IDs[a.m.ID], k.IDs[b.m.ID])
		default:
			if k.Collation == CollateASCIINumeric {
				r = asciiNumeric(a.strs[i], b.strs[i])
			} else {
				r = strings.Compare(a.strs[i], b.strs[i])
			}
		}
		if k.Reverse {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return cmp.Compare(a.pos, b.pos)
}

func hasKeyword(m *store.Message, k SortKey) bool {
	if k.Flags != 0 {
		return m.Flags&k.Flags == k.Flags
	}
	return slices.ContainsFunc(m.Keywords, func(kw string) bool { return strings.EqualFold(kw, k.Keyword) })
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// sortString is the string a string sort key compares, before collation.
func sortString(env *message.Envelope, f SortField) string {
	switch f {
	case SortSubject:
		b, _ := message.BaseSubject(env.DecodedSubject())
		return b
	case SortFrom:
		return firstMailbox(env.From)
	case SortTo:
		return firstMailbox(env.To)
	case SortCc:
		return firstMailbox(env.Cc)
	case SortDisplayFrom:
		return displayName(env.From)
	case SortDisplayTo:
		return displayName(env.To)
	}
	return ""
}

// firstMailbox is the addr-mailbox (local part) of the first address
// (RFC 5256 §3: FROM, TO, CC). A list that starts with a group starts
// with the group's name, as in the IMAP envelope (RFC 3501 §7.4.2), which
// is what Dovecot sorts on too.
func firstMailbox(list []message.Address) string {
	for _, a := range list {
		if a.Kind != message.GroupEnd {
			return a.Mailbox
		}
	}
	return ""
}

// displayName is the display name of the first address, or its addr-spec
// when it has none (RFC 5957 §2); a group's name when the list starts with
// a group.
func displayName(list []message.Address) string {
	for _, a := range list {
		switch a.Kind {
		case message.GroupEnd:
			continue
		case message.GroupStart:
			return strings.TrimSpace(message.Address{Name: a.Mailbox}.DisplayName())
		}
		if n := strings.TrimSpace(a.DisplayName()); n != "" {
			return n
		}
		return a.Addr()
	}
	return ""
}

// sentDate is the Date header in UTC, or the internal date when the
// header is missing or unusable (RFC 5256 §2.2).
func sentDate(env *message.Envelope, m *store.Message) time.Time {
	if t, ok := env.Time(); ok {
		return t.UTC()
	}
	return m.InternalDate.UTC()
}
