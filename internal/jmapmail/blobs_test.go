package jmapmail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"postern/internal/jmap"
)

// upload posts data as user and returns the status and the response.
func (e *env) upload(user, accountID, ctype string, data []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.http.URL+"/jmap/upload/"+accountID+"/", bytes.NewReader(data))
	req.SetBasicAuth(user, "secret")
	req.Header.Set("Content-Type", ctype)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// download gets a blob as user, with extra request headers.
func (e *env) download(user, accountID, blob, name string, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+"/jmap/download/"+accountID+"/"+blob+"/"+name, nil)
	req.SetBasicAuth(user, "secret")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// apiUsing sends one call with the capabilities using, as alice.
func (e *env) apiUsing(using []string, name string, args map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"using": using, "methodCalls": []any{[]any{name, args, "c0"}}})
	req, _ := http.NewRequest("POST", e.http.URL+"/jmap/api", bytes.NewReader(body))
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	inv := out["methodResponses"].([]any)[0].([]any)
	return response{inv[0].(string), inv[1].(map[string]any), inv[2].(string)}
}

var blobUsing = []string{jmap.CapabilityCore, Capability, BlobCapability}

const withParts = `From: a@example.org
Subject: parts
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="r=E9sum=E9.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQ==
--b
Content-Type: message/rfc822
Content-Disposition: attachment

From: inner@example.org
Subject: inner
Content-Type: multipart/alternative; boundary=i

--i
Content-Type: text/plain

inner text
--i
Content-Type: text/html

<p>inner</p>
--i--
--b--
`

func TestDownload(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", withParts, time.Unix(1700000000, 0))
	whole := blobID(m.BlobID)
	res, body := e.download(e.user, e.aid, whole, "m.eml")
	if res.StatusCode != 200 || int64(len(body)) != m.Size || res.Header.Get("Content-Type") != "message/rfc822" {
		t.Fatalf("whole: %d %q %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
	// A part: decoded, with its type, named as asked.
	res, body = e.download(e.user, e.aid, whole+"p2", "résumé.bin")
	if res.StatusCode != 200 || !bytes.Equal(body, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("part 2: %d %q", res.StatusCode, body)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="r_sum_.bin"; filename*=UTF-8''r%C3%A9sum%C3%A9.bin` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" || res.ContentLength != 10 {
		t.Errorf("part 2: %q %d", ct, res.ContentLength)
	}
	res, body = e.download(e.user, e.aid, whole+"p1", "t.txt")
	if string(body) != "caf\xe9" || res.Header.Get("Content-Type") != `text/plain; charset=iso-8859-1` {
		t.Errorf("part 1: %q %q", body, res.Header.Get("Content-Type"))
	}
	// The attached message without transfer encoding answers a Range.
	res, body = e.download(e.user, e.aid, whole+"p3", "m.eml", "Range", "bytes=0-3")
	if res.StatusCode != http.StatusPartialContent || string(body) != "From" {
		t.Errorf("range of part 3: %d %q", res.StatusCode, body)
	}
	// Inside the attached message: IMAP numbering goes on.
	if _, body = e.download(e.user, e.aid, whole+"p3.1", "x"); string(body) != "inner text" {
		t.Errorf("part 3.1: %q", body)
	}
	for _, bad := range []string{whole + "p9", whole + "p0", whole + "p1.", "b999999", "x1", whole + "p3.9", "b01"} {
		if res, _ := e.download(e.user, e.aid, bad, "x"); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", bad, res.StatusCode)
		}
	}
	// Bob sees none of alice's blobs, with his account or hers.
	bob, _ := e.st.Account(e.ctx, "bob@example.org")
	if res, _ := e.download("bob@example.org", jmap.AccountID(bob.ID), whole, "x"); res.StatusCode != 404 {
		t.Errorf("bob's account, alice's blob: %d", res.StatusCode)
	}
	if res, _ := e.download("bob@example.org", e.aid, whole, "x"); res.StatusCode != 404 {
		t.Errorf("bob with alice's account: %d", res.StatusCode)
	}
}

func TestUploadDownload(t *testing.T) {
	e := newEnv(t, Options{})
	status, up := e.upload(e.user, e.aid, "text/plain; charset=utf-8", []byte("hello blob"))
	if status != 201 || up["size"] != 10.0 || up["type"] != "text/plain; charset=utf-8" || up["accountId"] != e.aid {
		t.Fatalf("upload: %d %v", status, up)
	}
	id := up["blobId"].(string)
	res, body := e.download(e.user, e.aid, id, "hello.txt")
	if res.StatusCode != 200 || string(body) != "hello blob" || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("download: %d %q %q", res.StatusCode, body, res.Header.Get("Content-Type"))
	}
	// Bob cannot read alice's upload.
	bob, _ := e.st.Account(e.ctx, "bob@example.org")
	if res, _ := e.download("bob@example.org", jmap.AccountID(bob.ID), id, "x"); res.StatusCode != 404 {
		t.Errorf("bob: %d", res.StatusCode)
	}
	// Alice cannot read bob's upload, by any method.
	_, bobUp := e.upload("bob@example.org", jmap.AccountID(bob.ID), "text/plain", []byte("bob's"))
	bobID := bobUp["blobId"].(string)
	if res, _ := e.download(e.user, e.aid, bobID, "x"); res.StatusCode != 404 {
		t.Errorf("alice downloads bob's upload: %d", res.StatusCode)
	}
	r := e.apiUsing(blobUsing, "Blob/get", e.args("ids", []string{bobID, id}))
	if nf := strs(r.Args["notFound"]); len(nf) != 1 || nf[0] != bobID || len(r.Args["list"].([]any)) != 1 {
		t.Errorf("Blob/get of bob's blob: %v", r.Args)
	}
	r = e.apiUsing(blobUsing, "Email/parse", e.args("blobIds", []string{bobID}))
	if nf := strs(r.Args["notFound"]); len(nf) != 1 {
		t.Errorf("Email/parse of bob's blob: %v", r.Args)
	}
	r = e.apiUsing(blobUsing, "Blob/get", map[string]any{"accountId": jmap.AccountID(bob.ID), "ids": []string{bobID}})
	if r.Name != "error" || r.Args["type"] != "accountNotFound" {
		t.Errorf("Blob/get in bob's account: %v", r)
	}
}

func TestUploadQuota(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.st.SetQuota(e.ctx, e.user, 100, 0); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.upload(e.user, e.aid, "application/octet-stream", make([]byte, 101)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("upload over quota: %d, want 413", status)
	}
	if status, _ := e.upload(e.user, e.aid, "application/octet-stream", make([]byte, 100)); status != 201 {
		t.Errorf("upload within quota: %d", status)
	}
	// Blob/upload says overQuota, per blob.
	r := e.apiUsing(blobUsing, "Blob/upload", e.args("create", map[string]any{
		"big":   map[string]any{"data": []any{map[string]any{"data:asText": strings.Repeat("x", 101)}}},
		"small": map[string]any{"data": []any{map[string]any{"data:asText": "ok"}}, "type": "text/plain"}}))
	nc := r.Args["notCreated"].(map[string]any)
	if nc["big"].(map[string]any)["type"] != "overQuota" {
		t.Errorf("Blob/upload over quota: %v", r.Args)
	}
	if c := r.Args["created"].(map[string]any)["small"].(map[string]any); c["size"] != 2.0 || c["type"] != "text/plain" {
		t.Errorf("Blob/upload small: %v", r.Args)
	}
}

func TestUploadTooLarge(t *testing.T) {
	e := newEnv(t, Options{})
	srv := jmap.New(jmap.Options{Auth: testAuth{e.st}, Blobs: NewBlobs(e.st), Limits: jmap.Limits{MaxSizeUpload: 50}})
	Register(srv, e.st, Options{})
	e.http.Config.Handler = srv
	if status, _ := e.upload(e.user, e.aid, "application/octet-stream", make([]byte, 51)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("upload over maxSizeUpload: %d", status)
	}
	r := e.apiUsing(blobUsing, "Blob/upload", e.args("create", map[string]any{
		"big": map[string]any{"data": []any{map[string]any{"data:asBase64": "eHh4"}, map[string]any{"data:asText": strings.Repeat("x", 48)}}}}))
	if nc := r.Args["notCreated"].(map[string]any); nc["big"].(map[string]any)["type"] != "tooLarge" {
		t.Errorf("Blob/upload too large: %v", r.Args)
	}
}

func TestBlobGet(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", withParts, time.Unix(1700000000, 0))
	_, up := e.upload(e.user, e.aid, "application/octet-stream", []byte("The quick brown fox jumped over the \x81\x81 dog."))
	bad := up["blobId"].(string)
	get := func(args ...any) map[string]any {
		t.Helper()
		r := e.apiUsing(blobUsing, "Blob/get", e.args(args...))
		if r.Name != "Blob/get" {
			t.Fatalf("Blob/get: %v", r)
		}
		return r.Args
	}
	r := get("ids", []string{blobID(m.BlobID) + "p1", "b999999", bad})
	if nf := strs(r["notFound"]); len(nf) != 1 || nf[0] != "b999999" {
		t.Errorf("notFound %v", nf)
	}
	list := r["list"].([]any)
	p1 := list[0].(map[string]any)
	if p1["data:asBase64"] != "Y2Fm6Q==" || p1["isEncodingProblem"] != true || p1["size"] != 4.0 {
		t.Errorf("latin-1 part by default: %v", p1)
	}
	if o := list[1].(map[string]any); o["data:asBase64"] == nil || o["isEncodingProblem"] != true {
		t.Errorf("invalid UTF-8 by default: %v", o)
	}
	o := get("ids", []string{bad}, "properties", []string{"data:asText"})["list"].([]any)[0].(map[string]any)
	if o["data:asText"] != nil || o["isEncodingProblem"] != true {
		t.Errorf("data:asText of invalid UTF-8: %v", o)
	}
	o = get("ids", []string{bad}, "properties", []string{"data:asText", "digest:sha", "digest:sha-256", "size"}, "offset", 4, "length", 5)["list"].([]any)[0].(map[string]any)
	if o["data:asText"] != "quick" || o["isTruncated"] != false || o["isEncodingProblem"] != false || o["size"] != 43.0 ||
		o["digest:sha"] != "mldR1azs8m/36yszwUTvzhxp/po=" || o["digest:sha-256"] != "IscqqCznfILiymWnEceeqktRxX+F+RSJzurMezhZQ7o=" {
		t.Errorf("range: %v", o)
	}
	o = get("ids", []string{bad}, "properties", []string{"data:asBase64"}, "offset", 41, "length", 10)["list"].([]any)[0].(map[string]any)
	if o["data:asBase64"] != "Zy4=" || o["isTruncated"] != true || o["isEncodingProblem"] != false {
		t.Errorf("range past the end: %v", o)
	}
	if r := e.apiUsing(blobUsing, "Blob/get", e.args("ids", []string{bad}, "properties", []string{"digest:md5"})); r.Args["type"] != "invalidArguments" {
		t.Errorf("unknown property: %v", r)
	}
	if r := e.apiUsing([]string{jmap.CapabilityCore, Capability}, "Blob/get", e.args("ids", []string{bad})); r.Args["type"] != "unknownMethod" {
		t.Errorf("without the blob capability: %v", r)
	}
}

func TestBlobLookup(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", withParts, time.Unix(1700000000, 0))
	_, up := e.upload(e.user, e.aid, "text/plain", []byte("x"))
	r := e.apiUsing(blobUsing, "Blob/lookup", e.args("typeNames", []string{"Email", "Thread", "Mailbox"},
		"ids", []string{blobID(m.BlobID), blobID(m.BlobID) + "p2", up["blobId"].(string), "b999999", blobID(m.BlobID) + "p7"}))
	if r.Name != "Blob/lookup" {
		t.Fatalf("Blob/lookup: %v", r)
	}
	if nf := strs(r.Args["notFound"]); len(nf) != 2 {
		t.Errorf("notFound %v", nf)
	}
	list := r.Args["list"].([]any)
	want := fmt.Sprint(map[string]any{"Email": []any{emailID(m.ID)}, "Thread": []any{threadID(m.ThreadID)}, "Mailbox": []any{mailboxID(m.MailboxID)}})
	for _, i := range []int{0, 1} {
		if got := fmt.Sprint(list[i].(map[string]any)["matchedIds"]); got != want {
			t.Errorf("list[%d] %s, want %s", i, got, want)
		}
	}
	if got := fmt.Sprint(list[2].(map[string]any)["matchedIds"]); got != "map[Email:[] Mailbox:[] Thread:[]]" {
		t.Errorf("an upload: %s", got)
	}
	if r := e.apiUsing(blobUsing, "Blob/lookup", e.args("typeNames", []string{"Calendar"}, "ids", []string{})); r.Args["type"] != "unknownDataType" {
		t.Errorf("unknown type: %v", r)
	}
}

func TestBlobUploadSources(t *testing.T) {
	e := newEnv(t, Options{})
	call := func(create map[string]any, then ...any) []response {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"using": blobUsing, "methodCalls": append([]any{
			[]any{"Blob/upload", e.args("create", create), "c0"}}, then...)})
		req, _ := http.NewRequest("POST", e.http.URL+"/jmap/api", bytes.NewReader(body))
		req.SetBasicAuth(e.user, "secret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		var rs []response
		for _, r := range out["methodResponses"].([]any) {
			inv := r.([]any)
			rs = append(rs, response{inv[0].(string), inv[1].(map[string]any), inv[2].(string)})
		}
		return rs
	}
	// RFC 9404 §4.1.2's example: "How quick was that?"
	rs := call(map[string]any{
		"a": map[string]any{"data": []any{map[string]any{"data:asText": "The quick brown fox jumped over the lazy dog."}}},
		"b": map[string]any{"data": []any{
			map[string]any{"data:asText": "How"},
			map[string]any{"blobId": "#a", "offset": 3, "length": 7},
			map[string]any{"data:asText": "was t"},
			map[string]any{"blobId": "#a", "offset": 1, "length": 1},
			map[string]any{"data:asBase64": "YXQ/"}}},
		"c": map[string]any{"data": []any{map[string]any{"blobId": "#a", "offset": 40, "length": 10}}},
		"d": map[string]any{"data": []any{map[string]any{"data:asText": "x", "data:asBase64": "eA=="}}},
	}, []any{"Blob/get", e.args("ids", []string{"#b"}, "properties", []string{"data:asText", "size"}), "c1"})
	created := rs[0].Args["created"].(map[string]any)
	if created["b"].(map[string]any)["size"] != 19.0 {
		t.Errorf("created %v", created)
	}
	nc := rs[0].Args["notCreated"].(map[string]any)
	for _, k := range []string{"c", "d"} {
		if nc[k].(map[string]any)["type"] != "invalidProperties" {
			t.Errorf("notCreated[%s] = %v", k, nc[k])
		}
	}
	if got := rs[1].Args["list"].([]any)[0].(map[string]any)["data:asText"]; got != "How quick was that?" {
		t.Errorf("Blob/get #b: %v", rs[1].Args)
	}
}

// Blob/upload makes blobs in the order written, so "a" may use "#z";
// Blob/get refuses ids null; the methods check the account.
func TestBlobMethodsArguments(t *testing.T) {
	e := newEnv(t, Options{})
	body := `{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:blob"],"methodCalls":[["Blob/upload",{"accountId":"` + e.aid +
		`","create":{"z":{"data":[{"data:asText":"zz"}]},"a":{"data":[{"blobId":"#z"},{"data:asText":"a"}]}}},"c0"]]}`
	req, _ := http.NewRequest("POST", e.http.URL+"/jmap/api", strings.NewReader(body))
	req.SetBasicAuth(e.user, "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	args := out["methodResponses"].([]any)[0].([]any)[1].(map[string]any)
	if a := args["created"].(map[string]any)["a"].(map[string]any); a["size"] != 3.0 {
		t.Errorf("Blob/upload in order: %v", args)
	}
	if r := e.apiUsing(blobUsing, "Blob/get", e.args()); r.Args["type"] != "invalidArguments" {
		t.Errorf("Blob/get ids null: %v", r)
	}
	for _, m := range []string{"Blob/get", "Blob/lookup", "Email/parse", "Blob/upload"} {
		if r := e.apiUsing(blobUsing, m, map[string]any{"accountId": "a999"}); r.Args["type"] != "accountNotFound" {
			t.Errorf("%s of another account: %v", m, r)
		}
	}
	if r := e.apiUsing(blobUsing, "Blob/get", e.args("ids", []string{}, "offset", -1)); r.Args["type"] != "invalidArguments" {
		t.Errorf("negative offset: %v", r)
	}
}
