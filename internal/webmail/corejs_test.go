package webmail

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"testing"
)

// TestCoreJavaScript runs the Node tests of the core SPA's DOM-free code
// (testdata/search.test.mjs: the search box's query language). Skipped
// without node.
func TestCoreJavaScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "--test", "testdata/search.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}

// TestFirstLoadBudget keeps the first load of the webmail (style.css,
// app.js and every module it imports statically) within 200 KiB gzip, the
// budget of issue 10. Compose and settings load later and are not counted.
func TestFirstLoadBudget(t *testing.T) {
	const budget = 200 * 1024
	staticImport := regexp.MustCompile(`(?m)^\s*import\s[^;]*?from\s+["'](\./[A-Za-z0-9_./-]+\.js)["']`)
	seen := map[string]bool{}
	queue := []string{"app.js"}
	total := 0
	add := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("assets", name))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		total += buf.Len()
		return b
	}
	add("style.css")
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		for _, m := range staticImport.FindAllSubmatch(add(name), -1) {
			queue = append(queue, path.Clean(string(m[1])))
		}
	}
	if len(seen) < 5 {
		t.Fatalf("found only %d modules from app.js: the import pattern is stale", len(seen))
	}
	// The shell preloads every module of the first load, so the browser
	// fetches them at once instead of one level of imports after another.
	shell, err := os.ReadFile(filepath.Join("assets", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range seen {
		if !bytes.Contains(shell, []byte(`<link rel="modulepreload" href="{{asset "`+name+`"}}">`)) {
			t.Errorf("index.html does not preload %s", name)
		}
	}
	t.Logf("first load: %d modules + style.css, %d bytes gzip", len(seen), total)
	if total > budget {
		t.Errorf("first load is %d bytes gzip, over the budget of %d", total, budget)
	}
}
