package webmail

import (
	"os/exec"
	"testing"
)

// TestJavaScriptUnits runs the Node tests of the SPA's DOM-free code
// (testdata/*.test.mjs: the filter editor's Sieve writer and reader,
// address parsing and suggestions, the web admin's quota text, search
// guess and chart scale), so `go test` catches a broken round trip or a
// stale internal/sieve/testdata/webmail-rules.json. Skipped without node.
func TestJavaScriptUnits(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "--test", "testdata/sieve-rules.test.mjs", "testdata/compose-common.test.mjs",
		"testdata/admin.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
