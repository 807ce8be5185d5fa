package jmap

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/url"
	"strings"
	"testing"
)

func TestUploadDownload(t *testing.T) {
	e := newEnv(t, Limits{MaxSizeUpload: 100}, nil)
	resp, b := e.do("POST", "/jmap/upload/a1/", alice, strings.NewReader("hello, world"), "Content-Type", "text/plain; charset=utf-8")
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var up map[string]any
	json.Unmarshal(b, &up)
	if up["accountId"] != "a1" || up["blobId"] != "B1" || up["type"] != "text/plain; charset=utf-8" || up["size"] != float64(12) {
		t.Errorf("upload response %s", b)
	}

	// Too large, by Content-Length and by a chunked body.
	big := strings.Repeat("x", 101)
	resp, _ = e.do("POST", "/jmap/upload/a1/", alice, strings.NewReader(big))
	if resp.StatusCode != 413 {
		t.Errorf("large upload: %d", resp.StatusCode)
	}
	resp, _ = e.do("POST", "/jmap/upload/a1/", alice, struct{ *strings.Reader }{strings.NewReader(big)})
	if resp.StatusCode != 413 {
		t.Errorf("large chunked upload: %d", resp.StatusCode)
	}
	resp, _ = e.do("POST", "/jmap/upload/a1/", alice, strings.NewReader(big[:100]))
	if resp.StatusCode != 201 {
		t.Errorf("upload of exactly maxSizeUpload: %d", resp.StatusCode)
	}
	// Another account's upload URL.
	resp, _ = e.do("POST", "/jmap/upload/a2/", alice, strings.NewReader("x"))
	if resp.StatusCode != 404 {
		t.Errorf("upload to a2: %d", resp.StatusCode)
	}

	name := "Résumé 2024 \"final\";100%.txt"
	path := "/jmap/download/a1/B1/" + url.PathEscape(name) + "?accept=" + url.QueryEscape("application/x-test")
	resp, b = e.do("GET", path, alice, nil)
	if resp.StatusCode != 200 || string(b) != "hello, world" {
		t.Fatalf("download: %d %q", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-test" {
		t.Errorf("Content-Type %q", ct)
	}
	cd := resp.Header.Get("Content-Disposition")
	want := `attachment; filename="R_sum_ 2024 _final_;100_.txt"; filename*=UTF-8''R%C3%A9sum%C3%A9%202024%20%22final%22%3B100%25.txt`
	if cd != want {
		t.Errorf("Content-Disposition\n got %s\nwant %s", cd, want)
	}
	// Go's MIME parser decodes the RFC 8187 form back to the name.
	if _, params, err := mime.ParseMediaType(cd); err != nil || params["filename"] != name {
		t.Errorf("parsed %q %v", params["filename"], err)
	}
	// Without accept, the stored type; a bad accept falls back to it too.
	resp, _ = e.do("GET", "/jmap/download/a1/B1/a.txt", alice, nil)
	if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("stored type: %q", resp.Header.Get("Content-Type"))
	}
	resp, _ = e.do("GET", "/jmap/download/a1/B1/a.txt?accept=%0d%0aX:y", alice, nil)
	if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("X") != "" {
		t.Errorf("bad accept: %q", resp.Header.Get("Content-Type"))
	}
	// Unknown blob, another account's blob, another account's URL.
	for _, p := range []string{"/jmap/download/a1/B9/a.txt", "/jmap/download/a2/B1/a.txt"} {
		if resp, _ := e.do("GET", p, alice, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.do("GET", "/jmap/download/a2/B1/a.txt", "bob@example.org", nil); resp.StatusCode != 404 {
		t.Errorf("bob reads alice's blob: %d", resp.StatusCode)
	}
}

func TestContentDisposition(t *testing.T) {
	for name, want := range map[string]string{
		"":          "attachment",
		"plain.txt": `attachment; filename="plain.txt"; filename*=UTF-8''plain.txt`,
		"a\\b\r\n":  `attachment; filename="a_b__"; filename*=UTF-8''a%5Cb%0D%0A`,
		"日本.pdf":    `attachment; filename="__.pdf"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.pdf`,
		"\xff":      `attachment; filename="_"; filename*=UTF-8''%EF%BF%BD`,
	} {
		if got := ContentDisposition(name); got != want {
			t.Errorf("%q:\n got %s\nwant %s", name, got, want)
		}
	}
}

// blockingBlobs holds every upload until release is closed.
type blockingBlobs struct {
	memBlobs
	started chan bool
	release chan bool
}

func (b *blockingBlobs) Upload(ctx context.Context, account, ctype string, r io.Reader, max int64) (BlobInfo, error) {
	b.started <- true
	<-b.release
	return b.memBlobs.Upload(ctx, account, ctype, r, max)
}

func TestMaxConcurrentUpload(t *testing.T) {
	bb := &blockingBlobs{started: make(chan bool), release: make(chan bool)}
	e := &testEnv{t: t}
	e.srv = New(Options{Auth: fakeAuth{}, Blobs: bb, Limits: Limits{MaxConcurrentUpload: 1}})
	e.http = newServer(t, e.srv)
	done := make(chan int)
	go func() {
		resp, _ := e.do("POST", "/jmap/upload/a1/", alice, strings.NewReader("one"))
		done <- resp.StatusCode
	}()
	<-bb.started
	resp, b := e.do("POST", "/jmap/upload/a1/", alice, strings.NewReader("two"))
	if resp.StatusCode != 429 || !strings.Contains(string(b), `"limit":"maxConcurrentUpload"`) {
		t.Errorf("second upload: %d %s", resp.StatusCode, b)
	}
	close(bb.release)
	if s := <-done; s != 201 {
		t.Errorf("first upload: %d", s)
	}
}
