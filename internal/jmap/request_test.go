package jmap

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const testCap = "urn:example:test"

// register adds test methods under testCap.
func register(s *Server) {
	s.Handle("Test/list", testCap, func(ctx context.Context, c *Call) (any, error) {
		var args struct {
			AccountID string `json:"accountId"`
		}
		if err := c.Decode(&args); err != nil {
			return nil, err
		}
		if err := c.CheckAccount(ctx, args.AccountID); err != nil {
			return nil, err
		}
		return map[string]any{
			"accountId": args.AccountID,
			"ids":       []string{"m1", "m2"},
			"list": []any{
				map[string]any{"id": "m1", "threadId": "t1", "to": []any{map[string]any{"email": "x@a"}, map[string]any{"email": "y@a"}}},
				map[string]any{"id": "m2", "threadId": "t2", "to": []any{map[string]any{"email": "z@a"}}},
			},
		}, nil
	})
	s.Handle("Test/fail", testCap, func(ctx context.Context, c *Call) (any, error) {
		return nil, NewError(StateMismatch, "not in that state").With("ifInState", "s1")
	})
	s.Handle("Test/broken", testCap, func(ctx context.Context, c *Call) (any, error) {
		return nil, errors.New("disk on fire")
	})
	s.Handle("Test/panic", testCap, func(ctx context.Context, c *Call) (any, error) {
		panic("boom")
	})
	s.Handle("Test/create", testCap, func(ctx context.Context, c *Call) (any, error) {
		c.CreatedIDs["k1"] = "id1"
		return Responses{{Name: "Test/create", Args: map[string]any{"created": map[string]any{"k1": map[string]string{"id": "id1"}}}},
			{Name: "Test/implicit", Args: struct{}{}}}, nil
	})
	s.Handle("Test/get", testCap, func(ctx context.Context, c *Call) (any, error) {
		var args struct {
			IDs []string `json:"ids"`
		}
		if err := c.Decode(&args); err != nil {
			return nil, err
		}
		if err := c.CheckGet(len(args.IDs)); err != nil {
			return nil, err
		}
		return map[string]any{"list": args.IDs}, nil
	})
	s.Handle("Test/notObject", testCap, func(ctx context.Context, c *Call) (any, error) {
		return []int{1}, nil
	})
}

func TestEcho(t *testing.T) {
	e := newEnv(t, Limits{}, nil)
	// RFC 8620 §4.1 example.
	got := e.responses(`{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{"hello":true,"high":5},"b3ff"]]}`)
	if len(got) != 1 || got[0] != `["Core/echo",{"hello":true,"high":5},"b3ff"]` {
		t.Fatalf("got %v", got)
	}
	// Core is enabled even when "using" omits it; an empty request works.
	got = e.responses(`{"using":[],"methodCalls":[["Core/echo",{},"0"]]}`)
	if got[0] != `["Core/echo",{},"0"]` {
		t.Fatalf("got %v", got)
	}
	status, m := e.api(`{"using":[],"methodCalls":[]}`)
	if status != 200 || len(m["methodResponses"].([]any)) != 0 || m["sessionState"] == "" || m["createdIds"] != nil {
		t.Fatalf("empty request: %d %v", status, m)
	}
}

func TestRequestLevelErrors(t *testing.T) {
	e := newEnv(t, Limits{MaxCallsInRequest: 2, MaxSizeRequest: 2000}, register)
	cases := []struct {
		name, body, typ, limit string
		status                 int // 0: 400
	}{
		{"notJSON", `{"using":[`, ProblemNotJSON, "", 0},
		{"notJSON empty", ``, ProblemNotJSON, "", 0},
		{"notRequest array", `[]`, ProblemNotRequest, "", 0},
		{"notRequest no using", `{"methodCalls":[]}`, ProblemNotRequest, "", 0},
		{"notRequest null using", `{"using":null,"methodCalls":[]}`, ProblemNotRequest, "", 0},
		{"notRequest using numbers", `{"using":[1],"methodCalls":[]}`, ProblemNotRequest, "", 0},
		{"notRequest no calls", `{"using":[]}`, ProblemNotRequest, "", 0},
		{"notRequest short call", `{"using":[],"methodCalls":[["Core/echo",{}]]}`, ProblemNotRequest, "", 0},
		{"notRequest args array", `{"using":[],"methodCalls":[["Core/echo",[],"c"]]}`, ProblemNotRequest, "", 0},
		{"notRequest args null", `{"using":[],"methodCalls":[["Core/echo",null,"c"]]}`, ProblemNotRequest, "", 0},
		{"notRequest id number", `{"using":[],"methodCalls":[["Core/echo",{},1]]}`, ProblemNotRequest, "", 0},
		{"notRequest createdIds", `{"using":[],"methodCalls":[],"createdIds":[]}`, ProblemNotRequest, "", 0},
		{"unknownCapability", `{"using":["urn:ietf:params:jmap:core","urn:example:nope"],"methodCalls":[]}`, ProblemUnknownCapability, "", 0},
		{"too many calls", `{"using":[],"methodCalls":[["Core/echo",{},"1"],["Core/echo",{},"2"],["Core/echo",{},"3"]]}`, ProblemLimit, "maxCallsInRequest", 0},
		{"too large", `{"using":[],"methodCalls":[["Core/echo",{"x":"` + strings.Repeat("x", 2000) + `"},"1"]]}`, ProblemLimit, "maxSizeRequest", 413},
	}
	for _, c := range cases {
		want := c.status
		if want == 0 {
			want = 400
		}
		status, m := e.api(c.body)
		if status != want || m["type"] != c.typ || m["status"] != float64(want) {
			t.Errorf("%s: %d %v, want %d %s", c.name, status, m, want, c.typ)
		}
		if c.limit != "" && m["limit"] != c.limit {
			t.Errorf("%s: limit %v, want %s", c.name, m["limit"], c.limit)
		}
	}
	// Exactly the limits pass.
	if got := e.responses(`{"using":[],"methodCalls":[["Core/echo",{},"1"],["Core/echo",{},"2"]]}`); len(got) != 2 {
		t.Errorf("two calls: %v", got)
	}
	// A body that is not application/json is notJSON (RFC 8620 §3.6.1).
	resp, b := e.do("POST", "/jmap/api", alice, strings.NewReader(`{"using":[],"methodCalls":[]}`), "Content-Type", "text/plain")
	if resp.StatusCode != 400 || !strings.Contains(string(b), ProblemNotJSON) {
		t.Errorf("text/plain: %d %s", resp.StatusCode, b)
	}
	resp, _ = e.do("POST", "/jmap/api", alice, strings.NewReader(`{"using":[],"methodCalls":[]}`), "Content-Type", "application/json; charset=utf-8")
	if resp.StatusCode != 200 {
		t.Errorf("application/json with charset: %d", resp.StatusCode)
	}
	// GET on the API endpoint.
	resp, _ = e.do("GET", "/jmap/api", alice, nil)
	if resp.StatusCode != 405 {
		t.Errorf("GET api: %d", resp.StatusCode)
	}
}

func TestMethodErrors(t *testing.T) {
	e := newEnv(t, Limits{MaxObjectsInGet: 2}, register)
	got := e.responses(`{"using":["urn:example:test"],"methodCalls":[
		["Nope/get",{},"0"],
		["Test/fail",{},"1"],
		["Test/broken",{},"2"],
		["Test/panic",{},"3"],
		["Test/list",{"accountId":"a1","bogus":1},"4"],
		["Test/list",{"accountId":"a9"},"5"],
		["Test/get",{"ids":["1","2","3"]},"6"],
		["Test/get",{"ids":["1","2"]},"7"],
		["Test/notObject",{},"8"]
	]}`)
	want := []string{
		`["error",{"type":"unknownMethod"},"0"]`,
		`["error",{"description":"not in that state","ifInState":"s1","type":"stateMismatch"},"1"]`,
		`["error",{"type":"serverFail"},"2"]`,
		`["error",{"type":"serverFail"},"3"]`,
		`["error",{"description":"json: unknown field \"bogus\"","type":"invalidArguments"},"4"]`,
		`["error",{"type":"accountNotFound"},"5"]`,
		`["error",{"description":"more ids than maxObjectsInGet","limit":"maxObjectsInGet","type":"requestTooLarge"},"6"]`,
		`["Test/get",{"list":["1","2"]},"7"]`,
		`["error",{"type":"serverFail"},"8"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A method of a capability not in "using" is unknown (RFC 8620 §3.6.2).
	got = e.responses(`{"using":[],"methodCalls":[["Test/fail",{},"0"]]}`)
	if got[0] != `["error",{"type":"unknownMethod"},"0"]` {
		t.Fatalf("got %v", got)
	}
}

func TestCreatedIDs(t *testing.T) {
	e := newEnv(t, Limits{}, register)
	status, m := e.api(`{"using":["urn:example:test"],"methodCalls":[["Test/create",{},"c"]],"createdIds":{"k0":"id0"}}`)
	if status != 200 {
		t.Fatal(status, m)
	}
	ids := m["createdIds"].(map[string]any)
	if len(ids) != 2 || ids["k0"] != "id0" || ids["k1"] != "id1" {
		t.Errorf("createdIds %v", ids)
	}
	rs := m["methodResponses"].([]any)
	if len(rs) != 2 || rs[1].([]any)[0] != "Test/implicit" || rs[1].([]any)[2] != "c" {
		t.Errorf("responses %v", rs)
	}
	// An empty createdIds comes back empty; none, none.
	_, m = e.api(`{"using":[],"methodCalls":[],"createdIds":{}}`)
	if v, ok := m["createdIds"].(map[string]any); !ok || len(v) != 0 {
		t.Errorf("createdIds %v", m["createdIds"])
	}
	_, m = e.api(`{"using":["urn:example:test"],"methodCalls":[["Test/create",{},"c"]]}`)
	if _, ok := m["createdIds"]; ok {
		t.Errorf("createdIds sent without being asked: %v", m)
	}
}

func TestResultReferences(t *testing.T) {
	e := newEnv(t, Limits{MaxCallsInRequest: 32}, register)
	got := e.responses(`{"using":["urn:example:test"],"methodCalls":[
		["Test/list",{"accountId":"a1"},"0"],
		["Core/echo",{"#ids":{"resultOf":"0","name":"Test/list","path":"/ids"}},"1"],
		["Core/echo",{"#threads":{"resultOf":"0","name":"Test/list","path":"/list/*/threadId"}},"2"],
		["Core/echo",{"#to":{"resultOf":"0","name":"Test/list","path":"/list/*/to/*/email"}},"3"],
		["Core/echo",{"#first":{"resultOf":"0","name":"Test/list","path":"/list/0/id"},"keep":1},"4"],
		["Core/echo",{"#all":{"resultOf":"0","name":"Test/list","path":""}},"5"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/get","path":"/ids"}},"6"],
		["Core/echo",{"#x":{"resultOf":"nope","name":"Test/list","path":"/ids"}},"7"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"/missing"}},"8"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"/ids/2"}},"9"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"/ids/01"}},"10"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"ids"}},"11"],
		["Core/echo",{"#x":"notARef"},"12"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"/ids"},"x":1},"13"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"/accountId/*"}},"14"],
		["Core/echo",{"#x":{"resultOf":"8","name":"error","path":"/type"}},"15"],
		["Core/echo",{"#x":{"resultOf":"16","name":"Core/echo","path":""}},"16"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list"}},"17"],
		["Core/echo",{"#x":{"resultOf":"0","name":"Test/list","path":"/ids","extra":"1"}},"18"]
	]}`)
	want := []string{
		`["Test/list",{"accountId":"a1","ids":["m1","m2"],"list":[{"id":"m1","threadId":"t1","to":[{"email":"x@a"},{"email":"y@a"}]},{"id":"m2","threadId":"t2","to":[{"email":"z@a"}]}]},"0"]`,
		`["Core/echo",{"ids":["m1","m2"]},"1"]`,
		`["Core/echo",{"threads":["t1","t2"]},"2"]`,
		`["Core/echo",{"to":["x@a","y@a","z@a"]},"3"]`,
		`["Core/echo",{"first":"m1","keep":1},"4"]`,
		``, // checked below
		`["error",{"description":"response \"0\" is \"Test/list\", not \"Test/get\"","type":"invalidResultReference"},"6"]`,
		`["error",{"description":"no response with call id \"nope\"","type":"invalidResultReference"},"7"]`,
		`["error",{"description":"path \"/missing\" does not resolve","type":"invalidResultReference"},"8"]`,
		`["error",{"description":"path \"/ids/2\" does not resolve","type":"invalidResultReference"},"9"]`,
		`["error",{"description":"path \"/ids/01\" does not resolve","type":"invalidResultReference"},"10"]`,
		`["error",{"description":"path \"ids\" does not resolve","type":"invalidResultReference"},"11"]`,
		`["error",{"description":"\"#x\" is not a ResultReference","type":"invalidResultReference"},"12"]`,
		`["error",{"description":"both \"x\" and \"#x\" given","type":"invalidArguments"},"13"]`,
		`["error",{"description":"path \"/accountId/*\" does not resolve","type":"invalidResultReference"},"14"]`,
		`["Core/echo",{"x":"invalidResultReference"},"15"]`,
		`["error",{"description":"no response with call id \"16\"","type":"invalidResultReference"},"16"]`,
		`["error",{"description":"\"#x\" is not a ResultReference","type":"invalidResultReference"},"17"]`,
		`["error",{"description":"\"#x\" is not a ResultReference","type":"invalidResultReference"},"18"]`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d responses: %v", len(got), got)
	}
	for i := range want {
		if i == 5 {
			if !strings.HasPrefix(got[i], `["Core/echo",{"all":{"accountId":"a1"`) {
				t.Errorf("%d: %s", i, got[i])
			}
			continue
		}
		if got[i] != want[i] {
			t.Errorf("%d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestPointerEscapes(t *testing.T) {
	doc := map[string]any{"a/b": 1, "m~n": 2, "": 3}
	for path, want := range map[string]any{"/a~1b": 1, "/m~0n": 2, "/": 3} {
		if v, ok := evalPointer(doc, path); !ok || v != want {
			t.Errorf("%s: %v %v", path, v, ok)
		}
	}
	for _, path := range []string{"/m~2n", "/a~", "/x"} {
		if _, ok := evalPointer(doc, path); ok {
			t.Errorf("%s resolved", path)
		}
	}
}

func TestMaxConcurrentRequests(t *testing.T) {
	started, release := make(chan bool), make(chan bool)
	e := newEnv(t, Limits{MaxConcurrentRequests: 1}, func(s *Server) {
		register(s)
		s.Handle("Test/block", testCap, func(ctx context.Context, c *Call) (any, error) {
			started <- true
			<-release
			return struct{}{}, nil
		})
	})
	done := make(chan int)
	go func() {
		s, _ := e.api(`{"using":["urn:example:test"],"methodCalls":[["Test/block",{},"0"]]}`)
		done <- s
	}()
	<-started
	status, m := e.api(`{"using":[],"methodCalls":[]}`)
	if status != 429 || m["type"] != ProblemLimit || m["limit"] != "maxConcurrentRequests" {
		t.Errorf("second request: %d %v", status, m)
	}
	// Another account has its own slots.
	resp, _ := e.do("POST", "/jmap/api", "bob@example.org", strings.NewReader(`{"using":[],"methodCalls":[]}`))
	if resp.StatusCode != 200 {
		t.Errorf("bob: %d", resp.StatusCode)
	}
	close(release)
	if s := <-done; s != 200 {
		t.Errorf("first request: %d", s)
	}
	// The slot is free again afterwards.
	if s, _ := e.api(`{"using":[],"methodCalls":[]}`); s != 200 {
		t.Errorf("after: %d", s)
	}
}

// TestInvoke: a method answers with its own response and what another
// method of the same request answered, a method error included.
func TestInvoke(t *testing.T) {
	e := newEnv(t, Limits{}, func(s *Server) {
		register(s)
		s.Handle("Test/chain", testCap, func(ctx context.Context, c *Call) (any, error) {
			var args struct {
				Then string `json:"then"`
			}
			if err := c.Decode(&args); err != nil {
				return nil, err
			}
			more, err := c.Invoke(ctx, args.Then, map[string]any{"ids": []string{"x"}})
			if err != nil {
				return nil, err
			}
			return append(Responses{{Name: "Test/chain", Args: struct{}{}}}, more...), nil
		})
	})
	got := e.responses(`{"using":["urn:example:test"],"methodCalls":[["Test/chain",{"then":"Test/get"},"c1"]]}`)
	if len(got) != 2 || got[0] != `["Test/chain",{},"c1"]` || got[1] != `["Test/get",{"list":["x"]},"c1"]` {
		t.Fatalf("got %v", got)
	}
	got = e.responses(`{"using":["urn:example:test"],"methodCalls":[["Test/chain",{"then":"Test/fail"},"c2"]]}`)
	if len(got) != 2 || !strings.HasPrefix(got[1], `["error",{`) || !strings.Contains(got[1], `"stateMismatch"`) {
		t.Fatalf("got %v", got)
	}
	got = e.responses(`{"using":["urn:example:test"],"methodCalls":[["Test/chain",{"then":"Nope/set"},"c3"]]}`)
	if len(got) != 2 || !strings.Contains(got[1], `"unknownMethod"`) {
		t.Fatalf("got %v", got)
	}
}
