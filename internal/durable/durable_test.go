package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("twelve bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "a", "b", "dst")
	n, err := CopyFile(src, dst, 0o640)
	if err != nil || n != 12 {
		t.Fatalf("CopyFile = %d, %v", n, err)
	}
	got, _ := os.ReadFile(dst)
	fi, _ := os.Stat(dst)
	if string(got) != "twelve bytes" || fi.Mode().Perm() != 0o640 {
		t.Errorf("copy %q, mode %v", got, fi.Mode())
	}
	if _, err := CopyFile(src, dst, 0o640); err == nil {
		t.Error("a copy over an existing file succeeded")
	}
	if err := SyncTree(dir); err != nil {
		t.Error(err)
	}
	if _, err := CopyFile(filepath.Join(dir, "none"), filepath.Join(dir, "x"), 0o600); err == nil {
		t.Error("a copy of a missing file succeeded")
	}
}
