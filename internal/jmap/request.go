package jmap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
)

// Method answers one method call. It returns the response arguments (any
// value that marshals to a JSON object), or Responses for a call that
// answers with several (RFC 8620 §3.4, e.g. an implicit Email/set after
// EmailSubmission/set), or an error: a *Error is sent as the method's error
// response, anything else as serverFail (and logged).
type Method func(ctx context.Context, call *Call) (any, error)

// Response is one of several responses to a call.
type Response struct {
	Name string
	Args any
}

// Responses is returned by a Method that answers with several responses;
// each goes out with the call's id, in order.
type Responses []Response

// Call is one method call of a request, its arguments with result
// references already resolved.
type Call struct {
	Name string
	ID   string // the client's method call id
	// Args is the arguments object.
	Args      json.RawMessage
	Principal Principal
	// Using is the request's capabilities (the core one always included).
	Using map[string]bool
	// CreatedIDs maps creation ids to the ids created, shared by the calls
	// of one request and returned in the response when the request sent
	// "createdIds" (RFC 8620 §3.3). A /set method adds what it creates.
	CreatedIDs map[string]string
	Limits     Limits

	server     *Server
	capability string
}

// Decode decodes the arguments into v, refusing unknown arguments; a
// failure is an invalidArguments *Error.
func (c *Call) Decode(v any) error {
	d := json.NewDecoder(bytes.NewReader(c.Args))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return NewError(InvalidArguments, err.Error())
	}
	return nil
}

// CheckAccount returns nil if the principal may use accountID with this
// call's capability, else an accountNotFound or accountNotSupportedByMethod
// *Error (RFC 8620 §3.6.2).
func (c *Call) CheckAccount(ctx context.Context, accountID string) error {
	if accountID != c.Principal.AccountID {
		return NewError(AccountNotFound, "")
	}
	if capa, ok := c.server.caps[c.capability]; ok && capa.Account != nil {
		if capa.Account(ctx, c.Principal) == nil {
			return NewError(AccountNotSupported, "")
		}
	}
	return nil
}

// CheckGet returns requestTooLarge if n ids exceed maxObjectsInGet.
func (c *Call) CheckGet(n int) error {
	if n > c.Limits.MaxObjectsInGet {
		return NewError(RequestTooLarge, "more ids than maxObjectsInGet").With("limit", "maxObjectsInGet")
	}
	return nil
}

// CheckSet returns requestTooLarge if n creates, updates and destroys
// together exceed maxObjectsInSet.
func (c *Call) CheckSet(n int) error {
	if n > c.Limits.MaxObjectsInSet {
		return NewError(RequestTooLarge, "more objects than maxObjectsInSet").With("limit", "maxObjectsInSet")
	}
	return nil
}

// Invoke runs another registered method as part of this call, with the
// same principal, capabilities and creation ids, and returns what it
// answered: its responses, or one named "error" for a method error. It is
// for a method whose definition includes another's effect, such as
// EmailSubmission/set's implicit Email/set (RFC 8621 §7.5); the caller
// puts the responses in its own answer.
func (c *Call) Invoke(ctx context.Context, name string, args any) (Responses, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	var out []invocation
	// The other method is part of this one's definition: it runs even when
	// the request's "using" lacks its capability, as clients that ask only
	// for submission expect of onSuccessUpdateEmail (jmap-jam does).
	using := c.Using
	if m, ok := c.server.methods[name]; ok && !using[m.capability] {
		using = maps.Clone(using)
		using[m.capability] = true
	}
	sub := &Call{Name: name, ID: c.ID, Args: b, Principal: c.Principal, Using: using,
		CreatedIDs: c.CreatedIDs, Limits: c.Limits, server: c.server}
	if err := c.server.call(ctx, &out, sub); err != nil {
		out = append(out, c.server.errorInvocation(rawCall{name: name, id: c.ID}, err))
	}
	list := make(Responses, len(out))
	for i, inv := range out {
		list[i] = Response{Name: inv.name, Args: inv.args}
	}
	return list, nil
}

// echo is Core/echo (RFC 8620 §4): the arguments back unchanged.
func echo(_ context.Context, c *Call) (any, error) {
	return c.Args, nil
}

// request is a parsed Request object (RFC 8620 §3.3).
type request struct {
	using      []string
	calls      []rawCall
	createdIDs map[string]string // nil when the request had none
}

type rawCall struct {
	name string
	args json.RawMessage
	id   string
}

// invocation is a response already made, kept for result references.
type invocation struct {
	name   string
	args   json.RawMessage
	id     string
	parsed any // args decoded on first reference
}

func (inv invocation) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{inv.name, inv.args, inv.id})
}

func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// parseRequest checks body against the Request type signature.
func (s *Server) parseRequest(body []byte) (request, *problem) {
	notRequest := func(detail string) (request, *problem) {
		return request{}, &problem{Type: ProblemNotRequest, Status: http.StatusBadRequest, Detail: detail}
	}
	if !json.Valid(body) {
		return request{}, &problem{Type: ProblemNotJSON, Status: http.StatusBadRequest, Detail: "the request is not valid I-JSON"}
	}
	var top map[string]json.RawMessage
	if firstByte(body) != '{' || json.Unmarshal(body, &top) != nil {
		return notRequest("the request is not a JSON object")
	}
	var req request
	if firstByte(top["using"]) != '[' || json.Unmarshal(top["using"], &req.using) != nil {
		return notRequest(`"using" must be an array of strings`)
	}
	var calls []json.RawMessage
	if firstByte(top["methodCalls"]) != '[' || json.Unmarshal(top["methodCalls"], &calls) != nil {
		return notRequest(`"methodCalls" must be an array`)
	}
	if raw, ok := top["createdIds"]; ok {
		if firstByte(raw) != '{' || json.Unmarshal(raw, &req.createdIDs) != nil {
			return notRequest(`"createdIds" must be an object of strings`)
		}
		if req.createdIDs == nil {
			req.createdIDs = map[string]string{}
		}
	}
	if len(calls) > s.limits.MaxCallsInRequest {
		return request{}, &problem{Type: ProblemLimit, Status: http.StatusBadRequest, Limit: "maxCallsInRequest",
			Detail: "more than " + strconv.Itoa(s.limits.MaxCallsInRequest) + " method calls"}
	}
	for i, raw := range calls {
		var parts []json.RawMessage
		var c rawCall
		if firstByte(raw) != '[' || json.Unmarshal(raw, &parts) != nil || len(parts) != 3 ||
			firstByte(parts[0]) != '"' || json.Unmarshal(parts[0], &c.name) != nil ||
			firstByte(parts[1]) != '{' ||
			firstByte(parts[2]) != '"' || json.Unmarshal(parts[2], &c.id) != nil {
			return notRequest(fmt.Sprintf("method call %d is not [name, arguments, callId]", i))
		}
		c.args = parts[1]
		req.calls = append(req.calls, c)
	}
	return req, nil
}

// serveAPI answers POST /jmap/api (RFC 8620 §3.1).
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	p, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	if !isJSONType(r.Header.Get("Content-Type")) {
		writeProblem(w, problem{Type: ProblemNotJSON, Status: http.StatusBadRequest,
			Detail: "the request's content type is not application/json"})
		return
	}
	body, prob := s.readRequest(r)
	if prob != nil {
		writeProblem(w, *prob)
		return
	}
	b, prob := s.execute(r, p, body, nil)
	if prob != nil {
		writeProblem(w, *prob)
		return
	}
	writeJSON(w, b)
}

// isJSONType accepts application/json with any parameters, and no
// Content-Type at all (clients that send none still send JSON).
func isJSONType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// apiResponse is the Response object (RFC 8620 §3.4); over a WebSocket it
// carries "@type" and "requestId" too (RFC 8887 §4.3.3).
type apiResponse struct {
	Type            string             `json:"@type,omitempty"`
	RequestID       *string            `json:"requestId,omitempty"`
	MethodResponses []invocation       `json:"methodResponses"`
	CreatedIDs      *map[string]string `json:"createdIds,omitempty"`
	SessionState    string             `json:"sessionState"`
}

// execute runs one Request object of p and returns the Response object, or
// the request-level problem. Both transports, HTTP and WebSocket, use it,
// so they share its checks and the per-account maxConcurrentRequests slots.
// frame, when not nil, is the WebSocket Response being filled.
func (s *Server) execute(r *http.Request, p Principal, body []byte, frame *apiResponse) ([]byte, *problem) {
	req, prob := s.parseRequest(body)
	if prob != nil {
		return nil, prob
	}
	using := map[string]bool{CapabilityCore: true}
	for _, u := range req.using {
		if _, ok := s.caps[u]; !ok {
			return nil, &problem{Type: ProblemUnknownCapability, Status: http.StatusBadRequest,
				Detail: "unknown capability " + strconv.Quote(u)}
		}
		using[u] = true
	}
	release, ok := s.acquire(s.requests, p.AccountID, s.limits.MaxConcurrentRequests)
	if !ok {
		return nil, &problem{Type: ProblemLimit, Status: http.StatusTooManyRequests, Limit: "maxConcurrentRequests",
			Detail: "too many concurrent requests"}
	}
	defer release()

	ctx := r.Context()
	resp := s.run(ctx, p, using, &req)
	state, err := s.sessionState(ctx, r, p)
	if err != nil {
		s.log.Error("jmap: session state", "err", err)
	}
	out := frame
	if out == nil {
		out = &apiResponse{}
	}
	out.MethodResponses, out.SessionState = resp, state
	if req.createdIDs != nil {
		out.CreatedIDs = &req.createdIDs
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.log.Error("jmap: marshal response", "err", err)
		return nil, &problem{Type: "about:blank", Status: http.StatusInternalServerError}
	}
	return b, nil
}

// readRequest reads the body up to maxSizeRequest (RFC 8620 §3.6.1 limit,
// answered 413).
func (s *Server) readRequest(r *http.Request) ([]byte, *problem) {
	tp := tooLargeProblem(s.limits.MaxSizeRequest)
	tooLarge := &tp
	if r.ContentLength > s.limits.MaxSizeRequest {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.limits.MaxSizeRequest+1))
	if err != nil {
		return nil, &problem{Type: "about:blank", Status: http.StatusBadRequest, Detail: "reading the request failed"}
	}
	if int64(len(body)) > s.limits.MaxSizeRequest {
		return nil, tooLarge
	}
	return body, nil
}

func writeJSON(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// run processes the method calls in order (RFC 8620 §3.3, §3.4).
func (s *Server) run(ctx context.Context, p Principal, using map[string]bool, req *request) []invocation {
	created := req.createdIDs
	if created == nil {
		created = map[string]string{}
	}
	var out []invocation
	for _, rc := range req.calls {
		args, err := resolveReferences(rc.args, out)
		if err == nil {
			err = s.call(ctx, &out, &Call{
				Name: rc.name, ID: rc.id, Args: args, Principal: p, Using: using,
				CreatedIDs: created, Limits: s.limits, server: s,
			})
		}
		if err != nil {
			out = append(out, s.errorInvocation(rc, err))
		}
	}
	if out == nil {
		out = []invocation{}
	}
	return out
}

// call runs one method and appends its responses to out.
func (s *Server) call(ctx context.Context, out *[]invocation, c *Call) (err error) {
	m, ok := s.methods[c.Name]
	if !ok || !c.Using[m.capability] {
		return NewError(UnknownMethod, "")
	}
	c.capability = m.capability
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("jmap: method panicked", "method", c.Name, "panic", v, "stack", string(debug.Stack()))
			err = errors.New("panic")
		}
	}()
	res, err := m.fn(ctx, c)
	if err != nil {
		return err
	}
	list, ok := res.(Responses)
	if !ok {
		list = Responses{{Name: c.Name, Args: res}}
	}
	var made []invocation
	for _, r := range list {
		b, err := json.Marshal(r.Args)
		if err != nil {
			return err
		}
		if firstByte(b) != '{' {
			return fmt.Errorf("%s returned %.20s, not an object", c.Name, b)
		}
		made = append(made, invocation{name: r.Name, args: b, id: c.ID})
	}
	*out = append(*out, made...)
	return nil
}

func (s *Server) errorInvocation(rc rawCall, err error) invocation {
	var je *Error
	if !errors.As(err, &je) {
		s.log.Error("jmap: method failed", "method", rc.name, "err", err)
		je = NewError(ServerFail, "")
	}
	b, merr := json.Marshal(je)
	if merr != nil {
		b = []byte(`{"type":"serverFail"}`)
	}
	return invocation{name: "error", args: b, id: rc.id}
}
