package jmap

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeFrame feeds the WebSocket frame decoder anything: it never
// panics, a frame it accepts has a known type, and a problem it answers
// is a request-level one.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"@type":"Request","id":"R1","using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"c"]]}`,
		`{"@type":"WebSocketPushEnable","dataTypes":["Email","Mailbox"],"pushState":"abc"}`,
		`{"@type":"WebSocketPushEnable","dataTypes":null}`,
		`{"@type":"WebSocketPushEnable","dataTypes":["*"]}`,
		`{"@type":"WebSocketPushDisable"}`,
		`{"@type":"Request","id":7}`,
		`{"@type":1}`,
		`{"@type":"Nope"}`,
		`[]`, `null`, `"x"`, `{`, ``, "{\"@type\":\"Request\",\"id\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, prob := decodeFrame(body)
		if prob != nil {
			switch prob.Type {
			case ProblemNotJSON, ProblemNotRequest:
			default:
				t.Fatalf("problem type %q", prob.Type)
			}
			if prob.Status != 400 {
				t.Fatalf("status %d", prob.Status)
			}
			return
		}
		switch fr.kind {
		case frameRequest, framePushEnable, framePushDisable:
		default:
			t.Fatalf("accepted kind %q", fr.kind)
		}
		if !json.Valid(body) {
			t.Fatal("accepted invalid JSON")
		}
	})
}
