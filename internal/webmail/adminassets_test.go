package webmail

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAdminStrings: the web admin's modules (admin*.js) name only strings
// that exist in English, and Simplified Chinese has every English string
// (with plural forms where English has them), so no screen shows a key or
// falls back to English.
func TestAdminStrings(t *testing.T) {
	load := func(lang string) map[string]any {
		b, err := os.ReadFile(filepath.Join("assets", "i18n", lang, "admin.json"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s/admin.json: %v", lang, err)
		}
		return m
	}
	en, zh := load("en"), load("zh-CN")
	for k, v := range en {
		zv, ok := zh[k]
		switch {
		case !ok:
			t.Errorf("zh-CN/admin.json lacks %q", k)
		case isPlural(v) != isPlural(zv):
			t.Errorf("%q: plural forms in one language only", k)
		case isPlural(zv) && zv.(map[string]any)["other"] == nil:
			t.Errorf("zh-CN %q: no \"other\" form", k)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("zh-CN/admin.json has %q, which English lacks", k)
		}
	}
	files, _ := filepath.Glob(filepath.Join("assets", "admin*.js"))
	if len(files) < 5 {
		t.Fatalf("found %d admin modules", len(files))
	}
	// Literal keys; a key built at run time ("admin.nav." + page) is
	// checked by its prefix having some string.
	key := regexp.MustCompile(`"admin\.([A-Za-z0-9_.]+)"`)
	used := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			used++
			k := m[1]
			if strings.HasSuffix(k, ".") {
				if !slices.ContainsFunc(keysOf(en), func(s string) bool { return strings.HasPrefix(s, k) }) {
					t.Errorf("%s: no string starts with %q", filepath.Base(f), "admin."+k)
				}
				continue
			}
			if _, ok := en[k]; !ok {
				t.Errorf("%s: %q is not in en/admin.json", filepath.Base(f), "admin."+k)
			}
		}
	}
	if used < 100 {
		t.Errorf("only %d string keys found in the admin modules: the pattern is stale", used)
	}
}

func isPlural(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAdminPage: admin.html is a page of the asset set (not a file), it
// preloads the modules it imports first, and it has no inline script or
// style.
func TestAdminPage(t *testing.T) {
	a, err := LoadAssets()
	if err != nil {
		t.Fatal(err)
	}
	if a.set.files["admin.html"] != nil || a.set.pages["admin.html"] == nil {
		t.Fatal("admin.html must be a page, not a served file")
	}
	b, err := os.ReadFile(filepath.Join("assets", "admin.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, m := range []string{"admin.js", "admin-api.js", "admin-ui.js", "i18n.js", "ui.js"} {
		if !strings.Contains(page, `<link rel="modulepreload" href="{{asset "`+m+`"}}">`) {
			t.Errorf("admin.html does not preload %s", m)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "<style") {
		t.Errorf("admin.html has inline script or style")
	}
}
