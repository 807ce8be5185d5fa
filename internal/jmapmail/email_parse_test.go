package jmapmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"postern/internal/jmap"
	"postern/internal/store"
)

func TestEmailParse(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", withParts, time.Unix(1700000000, 0))
	_, up := e.upload(e.user, e.aid, "message/rfc822", []byte(strings.ReplaceAll(encodedHeaders, "\n", "\r\n")))
	uploaded := up["blobId"].(string)
	_, junk := e.upload(e.user, e.aid, "application/octet-stream", []byte("\x00\x01 not a message"))
	attached := blobID(m.BlobID) + "p3"
	r := e.apiUsing(blobUsing, "Email/parse", e.args("blobIds", []string{uploaded, attached, junk["blobId"].(string), "b999999", blobID(m.BlobID) + "p2"},
		"fetchAllBodyValues", true))
	if r.Name != "Email/parse" {
		t.Fatalf("Email/parse: %v", r)
	}
	if nf := strs(r.Args["notFound"]); len(nf) != 1 || nf[0] != "b999999" {
		t.Errorf("notFound %v", nf)
	}
	if np := strs(r.Args["notParsable"]); len(np) != 2 {
		t.Errorf("notParsable %v", np)
	}
	parsed := r.Args["parsed"].(map[string]any)
	o := parsed[uploaded].(map[string]any)
	if o["subject"] != "café and é" || o["id"] != nil || o["threadId"] != nil || o["mailboxIds"] != nil ||
		len(o) != len(emailParseDefault) {
		t.Errorf("uploaded message: %v", o)
	}
	if bv := o["bodyValues"].(map[string]any)["1"].(map[string]any); bv["value"] != "hello\r\n" {
		t.Errorf("uploaded body value: %v", bv)
	}
	in := parsed[attached].(map[string]any)
	if in["subject"] != "inner" || in["preview"] != nil && in["preview"] != "inner text" {
		t.Errorf("attached message: %v", in)
	}
	if got := partIDs(in["textBody"]); len(got) != 1 || got[0] != "1" {
		t.Errorf("attached textBody %v", got)
	}
	tb := in["textBody"].([]any)[0].(map[string]any)
	if tb["blobId"] != attached+".1" {
		t.Errorf("attached part blob %v", tb["blobId"])
	}
	// That part blob opens: the numbering goes on into the message.
	if _, body := e.download(e.user, e.aid, tb["blobId"].(string), "x"); string(body) != "inner text" {
		t.Errorf("download of %s: %q", tb["blobId"], body)
	}
	if bv := in["bodyValues"].(map[string]any)["2"].(map[string]any); bv["value"] != "<p>inner</p>" {
		t.Errorf("attached html value: %v", bv)
	}
	// Properties and errors.
	r = e.apiUsing(blobUsing, "Email/parse", e.args("blobIds", []string{uploaded}, "properties", []string{"blobId", "size", "header:X-Thing:all", "headers"}))
	o = r.Args["parsed"].(map[string]any)[uploaded].(map[string]any)
	if o["blobId"] != uploaded || o["size"] != up["size"] || len(o["header:X-Thing:all"].([]any)) != 2 || len(o) != 4 {
		t.Errorf("with properties: %v", o)
	}
	if r := e.apiUsing(blobUsing, "Email/parse", e.args("blobIds", []string{uploaded}, "properties", []string{"color"})); r.Args["type"] != "invalidArguments" {
		t.Errorf("unknown property: %v", r)
	}
}

// countingStore counts the bodies opened.
type countingStore struct {
	store.Store
	opens atomic.Int64
}

func (c *countingStore) OpenBlob(ctx context.Context, id int64) (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.Store.OpenBlob(ctx, id)
}

// A 25 MB attachment: metadata is answered without opening the body, the
// body lists and sizes without reading it into memory, and the download
// streams it.
func TestLargeAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("25 MB message")
	}
	e := newEnv(t, Options{})
	cs := &countingStore{Store: e.st}
	srv := jmap.New(jmap.Options{Auth: testAuth{e.st}, Blobs: NewBlobs(cs)})
	Register(srv, cs, Options{})
	e.http.Config.Handler = srv

	data := make([]byte, 25<<20)
	rand.Read(data[:1<<20])
	for i := 1 << 20; i < len(data); i += 1 << 20 {
		copy(data[i:], data[:1<<20])
	}
	var raw strings.Builder
	raw.WriteString("From: a@example.org\nSubject: big\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n" +
		"Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=big.bin\nContent-Transfer-Encoding: base64\n\n")
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		raw.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	raw.WriteString(enc + "\n--b--\n")
	m := e.deliverRaw("INBOX", raw.String(), time.Unix(1700000000, 0))
	raw.Reset()

	o := e.getEmail(emailID(m.ID), []string{"subject", "from", "hasAttachment", "preview", "size"})
	if o["hasAttachment"] != true || cs.opens.Load() != 0 {
		t.Errorf("metadata: %v, %d bodies opened", o, cs.opens.Load())
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	o = e.getEmail(emailID(m.ID), []string{"attachments", "textBody", "bodyStructure"})
	runtime.ReadMemStats(&after)
	att := o["attachments"].([]any)[0].(map[string]any)
	if att["size"] != float64(len(data)) || att["name"] != "big.bin" {
		t.Errorf("attachment %v", att)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
		t.Errorf("body lists allocated %d bytes", grown)
	}
	res, body := e.download(e.user, e.aid, att["blobId"].(string), "big.bin")
	if res.StatusCode != 200 || res.ContentLength != int64(len(data)) || !bytes.Equal(body, data) {
		t.Errorf("download: %d, %d bytes", res.StatusCode, len(body))
	}
}
