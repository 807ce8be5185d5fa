package imapd

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"postern/internal/message"
	"postern/internal/store"
)

// maxMultiAppend bounds the messages of one APPEND: every body waits,
// uncommitted (in memory up to the blob store's inline size, else in an
// open temporary file), until the last one has arrived.
const maxMultiAppend = 128

// maxMultiAppendBytes bounds the bytes of one APPEND command as a whole.
const maxMultiAppendBytes = 1 << 30

// parseAppendMsg reads one message of APPEND up to its literal's data:
// [SP flag-list] [SP date-time] SP append-data, the leading SP already
// read. append-data = literal / literal8 (RFC 3516 §4.4, "~{n}") /
// "UTF8" SP "(" literal8 ")" (RFC 6855 §4).
func parseAppendMsg(p *parser, a *appendArgs) {
	if p.peek() == '(' {
		a.flags = p.flagList()
		p.sp()
	}
	if p.peek() == '"' {
		a.date = parseDateTime(p, p.quoted())
		p.sp()
	}
	switch p.peek() {
	case '{':
	case '~':
		p.next()
		a.binary = true
	case 'U', 'u', 'C', 'c':
		switch strings.ToUpper(p.atom()) {
		case "UTF8":
			p.sp()
			p.expect('(')
			p.expect('~')
			a.binary, a.utf8 = true, true
		case "CATENATE":
			p.sp()
			a.catenate = true
			return
		default:
			p.fail("expected message literal")
		}
	default:
		p.fail("expected message literal")
	}
	a.size, a.nonSync = p.literalHeader()
}

// nextAppend reads what follows a message literal of APPEND: the end of
// the command (more false) or SP and the next message (RFC 3502 §6.3.11).
func (p *parser) nextAppend(prev *appendArgs) (next appendArgs, more bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *parseError:
				err = e
			case ioError:
				err = e
			default:
				panic(r)
			}
		}
	}()
	if prev.utf8 {
		p.expect(')')
	}
	if p.peek() != ' ' {
		p.crlf()
		return next, false, nil
	}
	p.sp()
	parseAppendMsg(p, &next)
	return next, true, nil
}

// pendingMsg is a received message whose body is not yet committed.
type pendingMsg struct {
	args appendArgs
	body store.Body // nil once handed to the store
	meta store.MessageMeta
}

// cmdAppend implements APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC
// 3502): every message is received before any is stored, then all are
// stored in one transaction or none (APPENDUID with a UID set, RFC 4315).
func (s *session) cmdAppend(c *command) reply {
	mb, err := s.srv.cfg.Store.Mailbox(s.ctx, s.acct.ID, c.mailbox)
	if errors.Is(err, store.ErrNotFound) {
		return s.drainAppend(c, no("TRYCREATE", "no such mailbox"))
	}
	if err != nil {
		return s.drainAppend(c, s.mapStoreErr(err, "APPEND"))
	}
	// Literals of messages skipped after a failure may be this large.
	s.p.litMax = s.srv.cfg.AppendLimit
	var msgs []pendingMsg
	defer func() {
		for _, m := range msgs {
			if m.body != nil {
				m.body.Discard()
			}
		}
	}()
	cur, total := c.app, int64(0)
	for {
		total += cur.size
		var m pendingMsg
		var r reply
		var stop bool
		if cur.catenate {
			m, r, stop = s.readCatenateMsg(c, cur, len(msgs), &total)
		} else {
			m, r, stop = s.readAppendMsg(c, cur, len(msgs), total)
		}
		if stop {
			return r
		}
		msgs = append(msgs, m)
		next, more, perr := s.p.nextAppend(&cur)
		if perr != nil {
			return s.lineError(perr)
		}
		if !more {
			break
		}
		cur = next
	}
	return s.storeAppended(mb, msgs)
}

// readAppendMsg reads the literal of one message of APPEND or REPLACE
// (the n-th of the command, total octets so far) into a new body; stop
// means the command ends with r.
func (s *session) readAppendMsg(c *command, cur appendArgs, n int, total int64) (pendingMsg, reply, bool) {
	if r, stop := s.checkAppendMsg(c, &cur, n, total); stop {
		return pendingMsg{}, r, true
	}
	if !cur.nonSync && s.continueReq() != nil {
		return pendingMsg{}, reply{}, true
	}
	body, meta, err := s.receiveBody(cur.size)
	if err != nil {
		if errors.Is(err, errConnLost) {
			return pendingMsg{}, reply{}, true
		}
		s.log.Error("imap append: receiving body", "err", err)
		return pendingMsg{}, s.abandonAppend(no("SERVERBUG", "cannot store message")), true
	}
	if cur.binary {
		if body, meta, err = s.encodeBinaryParts(body, meta); err != nil {
			s.log.Error("imap append: encoding binary parts", "err", err)
			return pendingMsg{}, s.abandonAppend(no("SERVERBUG", "cannot store message")), true
		}
	}
	return pendingMsg{args: cur, body: body, meta: meta}, reply{}, false
}

// checkAppendMsg refuses a message before its literal is read; stop
// means the command ends with r.
func (s *session) checkAppendMsg(c *command, a *appendArgs, n int, total int64) (reply, bool) {
	var r reply
	switch _, _, okFlags := parseFlags(a.flags); {
	case !okFlags:
		r = bad("", "invalid flag")
	case a.size > s.srv.cfg.AppendLimit:
		r = no("TOOBIG", "message exceeds APPENDLIMIT") // RFC 7889
	case n >= maxMultiAppend || total > maxMultiAppendBytes:
		r = no("LIMIT", "too many messages in one APPEND")
	default:
		return reply{}, false
	}
	// The refused message's literal and any messages after it are
	// skipped (drainAppend); a synchronising literal was never asked for.
	return s.drainAppend(&command{tag: c.tag, app: *a}, r), true
}

// abandonAppend skips what is left of a MULTIAPPEND after a message whose
// literal was read, so the next command is read from its start:
// non-synchronising literals are read and dropped (up to the APPENDLIMIT
// each, s.p.litMax), a synchronising one was never asked for.
func (s *session) abandonAppend(r reply) reply {
	if s.p.skipLine() != nil {
		return reply{}
	}
	return r
}

// receiveBody streams size bytes from the client into a new body, and the
// integrator's parser reads the same bytes on their way (one pass). The
// body is not stored yet.
func (s *session) receiveBody(size int64) (store.Body, store.MessageMeta, error) {
	cfg := &s.srv.cfg
	bw, err := cfg.Store.NewBody()
	if err != nil {
		io.CopyN(io.Discard, s.br, size)
		return nil, store.MessageMeta{}, err
	}
	src := &literalReader{r: s.br, left: size}
	dst := &stickyWriter{w: bw}
	meta, perr := safeParse(cfg.Parse, io.TeeReader(src, dst))
	// A parser that stops early, or a failed blob write, must still leave
	// the connection at the end of the literal.
	io.Copy(dst, src)
	switch {
	case src.err != nil:
		err = errConnLost
	case dst.err != nil:
		err = dst.err
	case perr != nil:
		err = perr
	default:
		b, err := bw.Finish()
		if err == nil {
			return b, meta, nil
		}
	}
	bw.Abort()
	return nil, store.MessageMeta{}, err
}

// encodeBinaryParts stores a message that came as a literal8 with its
// binary parts in base64 (message.Base64BinaryParts), so that BODY[]
// never sends NUL octets; BINARY[] decodes them again. A message without
// such parts is kept as it came.
func (s *session) encodeBinaryParts(body store.Body, meta store.MessageMeta) (store.Body, store.MessageMeta, error) {
	rc, err := body.Open()
	if err != nil {
		return body, meta, err
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return body, meta, err
	}
	parsed, err := message.Parse(bytes.NewReader(raw), message.DefaultLimits())
	if err != nil {
		return body, meta, err
	}
	out, changed := message.Base64BinaryParts(raw, parsed.Body)
	if !changed {
		return body, meta, nil
	}
	bw, err := s.srv.cfg.Store.NewBody()
	if err != nil {
		return body, meta, err
	}
	newMeta, err := safeParse(s.srv.cfg.Parse, io.TeeReader(bytes.NewReader(out), bw))
	if err != nil {
		bw.Abort()
		return body, meta, err
	}
	nb, err := bw.Finish()
	if err != nil {
		return body, meta, err
	}
	body.Discard()
	return nb, newMeta, nil
}

// appendItems stores one message with Append, several with AppendMany.
func (s *session) appendItems(mb store.Mailbox, items []store.AppendItem) ([]store.Message, error) {
	st := s.srv.cfg.Store
	if len(items) > 1 {
		return st.AppendMany(s.ctx, mb.ID, items)
	}
	it := items[0]
	m, err := st.Append(s.ctx, mb.ID, it.Blob, it.Target, it.InternalDate)
	return []store.Message{m}, err
}

// storeAppended commits the bodies and stores the messages atomically.
func (s *session) storeAppended(mb store.Mailbox, msgs []pendingMsg) reply {
	uids, r := s.commitAppended(mb, msgs)
	if r.status != "" {
		return r
	}
	return ok("APPENDUID "+itoa(int64(mb.UIDValidity))+" "+formatSetOrdered(uids), "APPEND completed")
}

// commitAppended stores the messages atomically and returns their UIDs, or
// the failure's reply.
func (s *session) commitAppended(mb store.Mailbox, msgs []pendingMsg) ([]uint32, reply) {
	items := make([]store.AppendItem, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		flags, kws, _ := parseFlags(m.args.flags)
		date := m.args.date
		if date.IsZero() {
			date = time.Now()
		}
		items[i] = store.AppendItem{
			Blob:         store.NewBlob{Body: m.body, Meta: m.meta},
			Target:       store.DeliveryTarget{AccountID: s.acct.ID, Mailbox: mb.Name, Flags: flags, Keywords: kws},
			InternalDate: date,
		}
	}
	for i := range msgs {
		msgs[i].body = nil // the store owns them now, stored or not
	}
	got, err := s.appendItems(mb, items)
	if err != nil {
		return nil, s.mapStoreErr(err, "APPEND")
	}
	if s.sel != nil && s.sel.mbox.ID == mb.ID {
		s.sel.dirty = true
	}
	uids := make([]uint32, len(got))
	for i, m := range got {
		uids[i] = m.UID
		s.log.Info("imap append", "mailbox", mb.Name, "uid", m.UID, "size", items[i].Blob.Size())
	}
	return uids, reply{}
}
