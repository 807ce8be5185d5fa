package adminapi

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeBody feeds request bodies to the decoder of every request
// type: it must answer an *apiError or succeed, never panic.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"root","password":"x","totp":"123456"}`,
		`{"name":"example.org"}`,
		`{"confirm":"example.org"}`,
		`{"address":"a@example.org","password":"p"}`,
		`{"size":"10M","messages":100}`,
		`{"size":1e400}`,
		`{"source":"a@b","destinations":["c@d",null]}`,
		`{"script":"keep;\n"}`,
		`{} {}`, `[`, `null`, `"x"`, `{"name":"\ud800"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{&loginRequest{}, &nameRequest{}, &confirmRequest{}, &addAccountRequest{},
			&passwordRequest{}, &quotaRequest{}, &aliasJSON{}, &scriptRequest{}, &tokenRequest{}, &addressRequest{}}
		for _, v := range targets {
			err := decodeBody(bytes.NewReader(body), v)
			var ae *apiError
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("%T: error %v is not an apiError", v, err)
			}
			if err != nil && (ae.Status != 400 || ae.Kind != "invalid" || ae.Msg == "") {
				t.Fatalf("%T: %+v", v, ae)
			}
		}
	})
}
