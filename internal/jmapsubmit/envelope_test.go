package jmapsubmit

import (
	"slices"
	"testing"

	"postern/internal/deliver"
)

// TestDeriveEnvelope: RFC 8621 §7's envelope of an Email sent without one.
func TestDeriveEnvelope(t *testing.T) {
	for _, tc := range []struct {
		header   string
		from     string
		rcpts    []string
		badProps []string
	}{
		{"From: A <a@x.test>\r\nTo: b@x.test, \"C\" <c@x.test>\r\nCc: d@x.test\r\nBcc: B@x.test, e@x.test\r\n\r\n",
			"a@x.test", []string{"b@x.test", "c@x.test", "d@x.test", "e@x.test"}, nil},
		{"Sender: s@x.test\r\nFrom: a@x.test, b@x.test\r\nTo: undisclosed-recipients:;\r\nBcc: h@x.test\r\n\r\n",
			"s@x.test", []string{"h@x.test"}, nil},
		{"From: a@x.test\r\nTo: Team: t1@x.test, t2@x.test;\r\n\r\n", "a@x.test", []string{"t1@x.test", "t2@x.test"}, nil},
		{"From: a@x.test\r\nBcc:\r\n\r\n", "a@x.test", []string{}, nil},
		{"From: a@x.test, b@x.test\r\nTo: c@x.test\r\n\r\n", "", nil, []string{"from"}},
		{"To: c@x.test\r\n\r\n", "", nil, []string{"from"}},
		{"Sender: a@x.test, b@x.test\r\nFrom: a@x.test\r\n\r\n", "", nil, []string{"sender"}},
		{"From: a@x.test\r\nTo: <<<\r\nCc: ok@x.test\r\n\r\n", "", nil, []string{"to"}},
	} {
		fields, _, err := deliver.SplitHeader([]byte(tc.header))
		if err != nil {
			t.Fatal(err)
		}
		env, bad := deriveEnvelope(fields)
		if !slices.Equal(bad, tc.badProps) {
			t.Errorf("%q: faults %v, want %v", tc.header, bad, tc.badProps)
			continue
		}
		if env == nil {
			continue
		}
		var rcpts []string
		for _, r := range env.RcptTo {
			rcpts = append(rcpts, r.Email)
			if r.Parameters != nil {
				t.Errorf("%q: parameters %v", tc.header, r.Parameters)
			}
		}
		if env.MailFrom.Email != tc.from || !slices.Equal(rcpts, tc.rcpts) && len(rcpts)+len(tc.rcpts) > 0 {
			t.Errorf("%q: %s %v, want %s %v", tc.header, env.MailFrom.Email, rcpts, tc.from, tc.rcpts)
		}
	}
}

// TestParameters: only the parameters of advertised extensions, with
// their syntax.
func TestParameters(t *testing.T) {
	all := map[string][]string{"8BITMIME": {}, "SIZE": {}, "DSN": {}, "SMTPUTF8": {}, "REQUIRETLS": {}}
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		mail, rcpt map[string]*string
		ext        map[string][]string
		ok         bool
	}{
		{map[string]*string{"RET": s("full"), "ENVID": s("x+2By"), "BODY": s("8BITMIME"), "SMTPUTF8": nil, "SIZE": s("100"), "REQUIRETLS": nil},
			map[string]*string{"NOTIFY": s("success,failure"), "ORCPT": s("rfc822;a@b.test")}, all, true},
		{map[string]*string{"RET": s("FULL")}, nil, map[string][]string{"SIZE": {}}, false}, // no DSN advertised
		{map[string]*string{"RET": s("ALL")}, nil, all, false},
		{map[string]*string{"ENVID": s("a=b")}, nil, all, false},
		{map[string]*string{"ENVID": s("a+zz")}, nil, all, false},
		{map[string]*string{"SMTPUTF8": s("yes")}, nil, all, false},
		{map[string]*string{"SIZE": s("-1")}, nil, all, false},
		{map[string]*string{"BODY": s("BINARYMIME")}, nil, all, false},
		{nil, map[string]*string{"NOTIFY": s("NEVER,SUCCESS")}, all, false},
		{nil, map[string]*string{"NOTIFY": s("DELAY,DELAY")}, all, false},
		{nil, map[string]*string{"ORCPT": s("x400;a")}, all, false},
		{nil, map[string]*string{"HOLDFOR": s("1")}, all, false},
		{map[string]*string{"REQUIRETLS": s("yes")}, nil, all, false},
		{map[string]*string{"REQUIRETLS": nil}, nil, map[string][]string{"DSN": {}}, false}, // not advertised
	} {
		env := &envelope{MailFrom: envelopeAddress{Email: "a@b.test", Parameters: tc.mail},
			RcptTo: []envelopeAddress{{Email: "c@d.test", Parameters: tc.rcpt}}}
		p, serr := checkParameters(env, tc.ext)
		if (serr == nil) != tc.ok {
			t.Errorf("%v %v: %v", tc.mail, tc.rcpt, serr)
		}
		if tc.ok && (p.ret != "FULL" || p.envID != "x+2By" || !p.requireTLS || p.rcpts[0].Notify != "SUCCESS,FAILURE" || p.rcpts[0].ORcpt != "rfc822;a@b.test") {
			t.Errorf("params %+v", p)
		}
	}
}
