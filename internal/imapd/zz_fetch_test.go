package imapd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

func TestZZFetchEnvelopes(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := context.Background()
	mb, _ := env.st.Mailbox(ctx, env.acct.ID, "INBOX")
	for k := range 10 {
		items := make([]store.AppendItem, 1000)
		for i := range items {
			msg := fmt.Sprintf("From: Load Generator <loadgen@bench.test>\r\nTo: <bench2@bench.test>\r\nSubject: bench message %d zq%02dx alpha bravo\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <bench-1-%d-99999@loadgen.bench.test>\r\n\r\nhello\r\n", k*1000+i, i%100, i)
			meta, _ := parseMeta(strings.NewReader(msg))
			items[i] = store.AppendItem{Blob: store.NewBlob{Body: store.BytesBody(msg), Meta: meta}, Target: store.DeliveryTarget{AccountID: env.acct.ID}, InternalDate: time.Now()}
		}
		env.st.AppendMany(ctx, mb.ID, items)
	}
	rc := env.login()
	rc.send("s SELECT INBOX")
	rc.expectTagged("s", "OK")
	for i := range 5 {
		t0 := time.Now()
		rc.send("f FETCH 1:* (FLAGS UID ENVELOPE)")
		rc.expectTagged("f", "OK")
		t.Logf("fetch %d %v", i, time.Since(t0))
	}
}
