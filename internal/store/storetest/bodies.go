package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

// A body larger than anything a backend keeps in memory round-trips
// through NewBody and OpenBlob byte for byte, and supports random access.
func testLargeBody(t *testing.T, e *env) {
	a := e.setup()
	var want bytes.Buffer
	want.WriteString("Subject: big\r\n\r\n")
	for i := 0; want.Len() < 3<<20; i++ {
		fmt.Fprintf(&want, "line %07d of a large message body\r\n", i)
	}
	w, err := e.s.NewBody()
	if err != nil {
		t.Fatal(err)
	}
	for chunk := range chunks(want.Bytes(), 64<<10) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	b, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if b.Size() != int64(want.Len()) {
		t.Fatalf("Size %d, want %d", b.Size(), want.Len())
	}
	res := e.deliver(store.NewBlob{Body: b}, store.DeliveryTarget{AccountID: a.ID})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	m := e.messages(res[0].MailboxID)[0]
	if m.Size != int64(want.Len()) {
		t.Errorf("message size %d", m.Size)
	}
	if got := e.readBlob(m.BlobID); got != want.String() {
		t.Fatalf("large body differs (len %d, want %d)", len(got), want.Len())
	}
	rc, err := e.s.OpenBlob(e.ctx, m.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		t.Fatalf("OpenBlob reader %T has no ReadAt", rc)
	}
	part := make([]byte, 100)
	if _, err := ra.ReadAt(part, 2<<20); err != nil || !bytes.Equal(part, want.Bytes()[2<<20:2<<20+100]) {
		t.Errorf("ReadAt: %q %v", part, err)
	}
	// An aborted body leaves nothing; a discarded one neither.
	w, _ = e.s.NewBody()
	io.WriteString(w, strings.Repeat("x", 2<<20))
	w.Abort()
	w, _ = e.s.NewBody()
	io.WriteString(w, strings.Repeat("y", 2<<20))
	if b, err := w.Finish(); err == nil {
		b.Discard()
	}
}

func chunks(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

// MULTIAPPEND stores all messages or none (RFC 3502).
func testMultiAppend(t *testing.T, e *env) {
	a := e.setup()
	box := e.mailbox(a.ID, "Archive")
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	items := []store.AppendItem{
		{Blob: e.sized(100), Target: store.DeliveryTarget{AccountID: a.ID, Flags: store.FlagSeen}, InternalDate: date},
		{Blob: e.sized(200), Target: store.DeliveryTarget{AccountID: a.ID, Keywords: []string{"$Work"}}, InternalDate: date},
	}
	got, err := e.s.AppendMany(e.ctx, box.ID, items)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].UID != 1 || got[1].UID != 2 || got[0].Flags != store.FlagSeen || got[1].Size != 200 {
		t.Fatalf("AppendMany %+v", got)
	}
	if err := e.s.SetQuota(e.ctx, a.Address, 500, 0); err != nil {
		t.Fatal(err)
	}
	items = []store.AppendItem{
		{Blob: e.sized(100), Target: store.DeliveryTarget{AccountID: a.ID}, InternalDate: date},
		{Blob: e.sized(150), Target: store.DeliveryTarget{AccountID: a.ID}, InternalDate: date},
	}
	_, err = e.s.AppendMany(e.ctx, box.ID, items)
	if !errors.Is(err, store.ErrOverQuota) {
		t.Fatalf("AppendMany over quota: %v", err)
	}
	if msgs := e.messages(box.ID); len(msgs) != 2 {
		t.Errorf("a refused MULTIAPPEND stored %d messages", len(msgs)-2)
	}
	if got := e.reload(a); got.UsedBytes != 300 || got.UsedMessages != 2 {
		t.Errorf("usage %d/%d", got.UsedBytes, got.UsedMessages)
	}
	_, err = e.s.AppendMany(e.ctx, box.ID, nil)
	wantErr(t, "empty AppendMany", err, store.ErrInvalid)
}
