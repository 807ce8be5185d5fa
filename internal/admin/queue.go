package admin

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"postern/internal/store"
)

// The outbound queue as an administrator handles it. Changes are written
// to the database; a running server's queue runner sees them within its
// poll interval (a few seconds).

// QueueEntry is one queued message with its header, for `queue show`.
type QueueEntry struct {
	store.QueueMessage
	// Header is the message's header block, one line per element as
	// stored (folded fields keep their continuation lines), without the
	// line ends.
	Header []string
}

// maxShownHeader bounds how much of a queued message is read for its
// header: the SMTP server refuses larger header blocks anyway.
const maxShownHeader = 1 << 20

// QueueList returns every queued message with its recipients, oldest first.
func (s *Service) QueueList(ctx context.Context) ([]store.QueueMessage, error) {
	return s.st.QueueList(ctx)
}

// QueueShow returns one queued message with its header.
func (s *Service) QueueShow(ctx context.Context, id int64) (QueueEntry, error) {
	m, err := s.queued(ctx, id)
	if err != nil {
		return QueueEntry{}, err
	}
	rc, err := store.OpenQueued(ctx, s.st, m)
	if err != nil {
		return QueueEntry{}, storeErr(err, "id", qid(id), "queue entry "+qid(id))
	}
	defer rc.Close()
	e := QueueEntry{QueueMessage: m}
	sc := bufio.NewScanner(io.LimitReader(rc, maxShownHeader))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		e.Header = append(e.Header, line)
	}
	// A line longer than the buffer ends the header early; what was read
	// is still worth showing.
	return e, nil
}

// QueueRetry makes the pending recipients of one message due now and
// returns how many there were.
func (s *Service) QueueRetry(ctx context.Context, id int64) (int, error) {
	if err := needActor(ctx); err != nil {
		return 0, err
	}
	if err := checkQueueID(id); err != nil {
		return 0, err
	}
	n, err := s.st.QueueRetry(ctx, id, time.Now())
	if err != nil {
		return 0, storeErr(err, "id", qid(id), "queue entry "+qid(id))
	}
	s.audit(ctx, "queue.retry", qid(id), "recipients", n)
	return n, nil
}

// QueueRetryAll makes every pending recipient of every message due now
// (held messages stay held) and returns how many there were.
func (s *Service) QueueRetryAll(ctx context.Context) (int, error) {
	if err := needActor(ctx); err != nil {
		return 0, err
	}
	n, err := s.st.QueueRetry(ctx, 0, time.Now())
	if err != nil {
		return 0, err
	}
	s.audit(ctx, "queue.retry", "all", "recipients", n)
	return n, nil
}

// QueueDrop deletes a message from the queue without a bounce.
func (s *Service) QueueDrop(ctx context.Context, id int64) error {
	return s.queueChange(ctx, id, "queue.drop", s.st.QueueDelete)
}

// QueueHold keeps a message from being attempted until it is released.
func (s *Service) QueueHold(ctx context.Context, id int64) error {
	return s.queueChange(ctx, id, "queue.hold", func(ctx context.Context, id int64) error {
		return s.st.QueueHold(ctx, id, true)
	})
}

// QueueRelease lets a held message be attempted again at its recipients'
// next attempt times (QueueRetry makes them due now).
func (s *Service) QueueRelease(ctx context.Context, id int64) error {
	return s.queueChange(ctx, id, "queue.release", func(ctx context.Context, id int64) error {
		return s.st.QueueHold(ctx, id, false)
	})
}

func (s *Service) queueChange(ctx context.Context, id int64, action string, change func(context.Context, int64) error) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	if err := checkQueueID(id); err != nil {
		return err
	}
	if err := change(ctx, id); err != nil {
		return storeErr(err, "id", qid(id), "queue entry "+qid(id))
	}
	s.audit(ctx, action, qid(id))
	return nil
}

// queued returns one queue entry.
func (s *Service) queued(ctx context.Context, id int64) (store.QueueMessage, error) {
	if err := checkQueueID(id); err != nil {
		return store.QueueMessage{}, err
	}
	m, err := s.st.QueueMessage(ctx, id)
	return m, storeErr(err, "id", qid(id), "queue entry "+qid(id))
}

func checkQueueID(id int64) error {
	if id <= 0 {
		return invalid("id", qid(id), nil, "%d is not a queue id", id)
	}
	return nil
}

func qid(id int64) string { return strconv.FormatInt(id, 10) }
