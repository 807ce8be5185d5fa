package adminapi

import "time"

// The login throttle of the running server (issue 13: what `postern auth
// status` and `unblock` were asked to show and do; the throttle lives in
// the server process, so it is reached here).

type throttledJSON struct {
	Source   string    `json:"source"`
	Account  string    `json:"account,omitempty"`
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

// throttled lists the sources, and accounts tried from a source, whose
// logins are refused now.
func (a *api) throttled(c *call) (any, error) {
	if err := c.admin.CheckServerScope("the login throttle"); err != nil {
		return nil, err
	}
	out := []throttledJSON{}
	for _, k := range a.auth.Throttled() {
		out = append(out, throttledJSON(k))
	}
	return map[string]any{"throttled": out}, nil
}

// unblock forgets the failed logins of an IP address or an account.
func (a *api) unblock(c *call) (any, error) {
	if err := c.admin.CheckServerScope("the login throttle"); err != nil {
		return nil, err
	}
	var req struct {
		Target string `json:"target"`
	}
	if err := decodeJSON(c.r, &req); err != nil {
		return nil, err
	}
	n, err := a.svc.Unblock(c.ctx, a.auth, req.Target)
	if err != nil {
		return nil, err
	}
	return map[string]int{"cleared": n}, nil
}
