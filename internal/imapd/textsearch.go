package imapd

import (
	"postern/internal/store"
)

// prepareText answers BODY, TEXT, HEADER and the header keys SUBJECT,
// FROM, TO, CC and BCC for the whole mailbox at once (RFC 9051 §6.4.4:
// case-insensitive substring matches; here on the decoded text). The
// store answers exactly, bodies it keeps no text of included.
func (sc *searchCtx) prepareText(k *searchKey) error {
	q := store.TextQuery{Field: store.TextBody, Needle: k.str}
	switch k.op {
	case "TEXT":
		q.Field = store.TextAll
	case "HEADER":
		q = store.TextQuery{Field: store.TextHeaders, Header: k.str, Needle: k.str2}
	case "SUBJECT", "FROM", "TO", "CC", "BCC":
		q.Field, q.Header = store.TextHeaders, k.op
	}
	uids, err := sc.s.srv.cfg.Store.SearchText(sc.s.ctx, sc.s.sel.mbox.ID, q)
	if err != nil {
		return err
	}
	set := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		set[u] = true
	}
	sc.text[k] = set
	return nil
}
