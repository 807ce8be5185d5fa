package sieve

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestWebmailRulesCompile compiles and runs every script the webmail's
// filter editor can write (testdata/webmail-rules.json, made by
// internal/webmail/testdata/make-examples.mjs from sieve-rules.js),
// so a change of the writer or of the compiler that breaks them fails
// here and not in a user's settings page.
func TestWebmailRulesCompile(t *testing.T) {
	data, err := os.ReadFile("testdata/webmail-rules.json")
	if err != nil {
		t.Fatal(err)
	}
	var examples []struct {
		Name   string `json:"name"`
		Script string `json:"script"`
	}
	if err := json.Unmarshal(data, &examples); err != nil {
		t.Fatal(err)
	}
	if len(examples) < 10 {
		t.Fatalf("%d examples; the file lost some", len(examples))
	}
	for _, e := range examples {
		if !strings.HasPrefix(e.Script, "# Postern webmail filters v1\n") {
			t.Errorf("%s: no marker line", e.Name)
		}
		s, err := Compile([]byte(e.Script), Options{})
		if err != nil {
			t.Errorf("%s: %v\n%s", e.Name, err, e.Script)
			continue
		}
		if _, err := s.Run(context.Background(), testEnv()); err != nil {
			t.Errorf("%s: run: %v", e.Name, err)
		}
	}
}

// TestWebmailRuleEffects runs rules of the kinds the editor writes on
// testMsg and checks what they do.
func TestWebmailRuleEffects(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"move and read", `require ["fileinto", "imap4flags"];
if address :contains "from" "alice@example.org" {
    addflag "\\Seen";
    fileinto "Lists/Dev";
    stop;
}
if true {
    discard;
}`, `fileinto:Lists/Dev[\Seen]`},
		{"to or cc", `if address :is ["to", "cc"] "john@example.com" {
    discard;
}`, "discard"},
		{"not subject", `require ["copy"];
if not header :contains "subject" "invoice" {
    redirect :copy "me@phone.example";
}`, "redirect:me@phone.example:copy implicit"},
		{"header any of", `require ["imap4flags"];
if anyof (header :contains "List-Id" "nothing", header :is "X-Spam-Score" "7") {
    addflag "\\Flagged";
}`, `implicit[\Flagged]`},
	}
	for _, tc := range tests {
		if got := summary(mustRun(t, tc.src, testEnv())); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
