package imapd

import (
	"bytes"
	"strings"

	"postern/internal/message"
	"postern/internal/store"
)

// parsedText is the folded text of a message parsed at search time, for
// messages the store keeps no text of.
type parsedText struct {
	body, headers string
}

// prepareText answers BODY, TEXT, HEADER and the header keys SUBJECT,
// FROM, TO, CC and BCC for the whole mailbox at once (RFC 9051 §6.4.4:
// case-insensitive substring matches; here on the decoded text):
// the store scans its folded copy of each message's text; messages it has
// no copy of are parsed here.
func (sc *searchCtx) prepareText(k *searchKey) error {
	field, name, needle := store.TextBody, "", k.str
	switch k.op {
	case "TEXT":
		field = store.TextAll
	case "HEADER":
		field, name, needle = store.TextHeaders, k.str, k.str2
	case "SUBJECT", "FROM", "TO", "CC", "BCC":
		field, name = store.TextHeaders, k.op
	}
	set := map[uint32]bool{}
	sc.text[k] = set
	var missing []uint32
	if ss, ok := sc.s.srv.cfg.Store.(store.SubstringSearcher); ok {
		hits, miss, err := ss.SearchSubstring(sc.s.ctx, sc.s.sel.mbox.ID, field, needle)
		if err != nil {
			return err
		}
		for _, h := range hits {
			if field != store.TextHeaders || headerHas(h.Headers, name, needle) {
				set[h.UID] = true
			}
		}
		missing = miss
	} else {
		missing = sc.s.sel.uids
	}
	return sc.scanParsed(field, name, needle, missing, set)
}

// scanParsed checks messages by parsing their bodies.
func (sc *searchCtx) scanParsed(field store.TextField, name, needle string, uids []uint32, set map[uint32]bool) error {
	if len(uids) == 0 {
		return nil
	}
	if sc.parsed == nil {
		sc.parsed = map[uint32]*parsedText{}
	}
	fneedle := store.FoldText(needle)
	for _, u := range uids {
		pt, err := sc.parsedText(u)
		if err != nil {
			return err
		}
		if pt == nil {
			continue // expunged meanwhile
		}
		var hit bool
		switch field {
		case store.TextBody:
			hit = strings.Contains(pt.body, fneedle)
		case store.TextAll:
			hit = strings.Contains(pt.headers, fneedle) || strings.Contains(pt.body, fneedle)
		default:
			hit = headerHas(pt.headers, name, needle)
		}
		if hit {
			set[u] = true
		}
	}
	return nil
}

func (sc *searchCtx) parsedText(uid uint32) (*parsedText, error) {
	if pt, ok := sc.parsed[uid]; ok {
		return pt, nil
	}
	msgs, err := sc.s.srv.cfg.Store.Messages(sc.s.ctx, sc.s.sel.mbox.ID, uid, uid)
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	f := fetcher{s: sc.s}
	raw, err := f.body(msgs[0])
	if err != nil {
		return nil, err
	}
	p, err := message.Parse(bytes.NewReader(raw), message.DefaultLimits())
	if err != nil {
		return nil, err
	}
	pt := &parsedText{body: store.FoldText(p.SearchText), headers: store.FoldText(p.Headers)}
	sc.parsed[uid] = pt
	return pt, nil
}

// headerHas tells whether folded header lines ("name: value") hold the
// field name with a value containing needle; an empty needle asks only
// for the field (RFC 9051 §6.4.4 HEADER).
func headerHas(headers, name, needle string) bool {
	prefix := store.FoldText(name) + ":"
	fneedle := store.FoldText(needle)
	for len(headers) > 0 {
		line := headers
		if i := strings.IndexByte(headers, '\n'); i >= 0 {
			line, headers = headers[:i], headers[i+1:]
		} else {
			headers = ""
		}
		if v, ok := strings.CutPrefix(line, prefix); ok && strings.Contains(strings.TrimPrefix(v, " "), fneedle) {
			return true
		}
	}
	return false
}
