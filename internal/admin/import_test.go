package admin

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestImportAccounts(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustDomain("other.test")
	h.mustAccount("taken@example.org")
	h.mustAlias("alias@example.org", "taken@example.org")
	h.audits()

	bad := "address,password,quota,name\n" +
		"ok@example.org,good password 1,10M,Ok Person\n" + // line 2
		"not an address,good password 1,0\n" + // 3
		"x@nowhere.test,good password 1,0\n" + // 4
		"short@example.org,short,0\n" + // 5
		"quota@example.org,good password 1,ten\n" + // 6
		"taken@example.org,good password 1,\n" + // 7
		"alias@example.org,good password 1,\n" + // 8
		"OK@example.org,good password 1,1G\n" + // 9: the same as line 2
		"cols@example.org,good password 1\n" + // 10
		"far@other.test,good password 1,0\n" // 11: outside the scope
	scope := func(addr string) error {
		if strings.HasSuffix(addr, "@other.test") {
			return forbidden("address", addr, "administrator dom does not manage %s", addr)
		}
		return nil
	}
	res, err := h.svc.ImportAccounts(h.ctx, []byte(bad), ImportOptions{Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	// The messages are those of the single commands.
	_, _, addErr := h.svc.AddAccount(h.ctx, "not an address", NewPassword{Given: "good password 1"})
	_, _, shortErr := h.svc.AddAccount(h.ctx, "short@example.org", NewPassword{Given: "short"})
	_, quotaErr := ParseQuota("ten", "")
	want := []string{
		"3 not an address: " + addErr.Error(),
		"4 x@nowhere.test: domain nowhere.test does not exist",
		"5 short@example.org: " + shortErr.Error(),
		"6 quota@example.org: " + quotaErr.Error(),
		"7 taken@example.org: account taken@example.org already exists",
		"8 alias@example.org: alias@example.org is an alias; delete the alias first",
		"9 OK@example.org: ok@example.org is on line 2 already",
		"10 cols@example.org: 2 columns, want address,password,quota[,name]",
		"11 far@other.test: administrator dom does not manage far@other.test",
	}
	var got []string
	for _, e := range res.Errors {
		got = append(got, fmt.Sprintf("%d %s: %s", e.Line, e.Address, e.Message))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.Created) != 0 {
		t.Errorf("created %v despite errors", res.Created)
	}
	if _, err := h.svc.Account(h.ctx, "ok@example.org"); KindOf(err) != KindNotFound {
		t.Fatalf("an account was created from a refused file: %v", err)
	}
	h.wantNoAudit("a refused import")

	good := "\uFEFF# staff\nnew1@example.org, \"pass, with comma\",10M,\"Ann Example\"\n\nNew2@Example.org,good password 2,1.5G\n"
	res, err = h.svc.ImportAccounts(h.ctx, []byte(good), ImportOptions{DryRun: true})
	if err != nil || len(res.Errors) != 0 || strings.Join(res.Created, ",") != "new1@example.org,new2@example.org" || !res.DryRun {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, err := h.svc.Account(h.ctx, "new1@example.org"); KindOf(err) != KindNotFound {
		t.Fatalf("a dry run created an account: %v", err)
	}
	h.wantNoAudit("a dry run")
	res, err = h.svc.ImportAccounts(h.ctx, []byte(good), ImportOptions{})
	if err != nil || len(res.Errors) != 0 || len(res.Created) != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	audits := h.audits()
	if len(audits) != 2 || audits[0]["action"] != "account.add" || audits[1]["target"] != "new2@example.org" {
		t.Errorf("audit lines %v", audits)
	}
	a, err := h.svc.Account(h.ctx, "new2@example.org")
	if err != nil || a.QuotaBytes != 3<<29 {
		t.Errorf("new2: %+v %v", a, err)
	}
	if h.storedHash("new1@example.org") == "" {
		t.Error("no password stored")
	}
	ids, _, err := h.st.Identities(h.ctx, mustID(t, h, "new1@example.org"))
	if err != nil || len(ids) != 1 || ids[0].Name != "Ann Example" {
		t.Errorf("identities %+v %v", ids, err)
	}
	// The same file again: every row exists now.
	res, _ = h.svc.ImportAccounts(h.ctx, []byte(good), ImportOptions{})
	if len(res.Errors) != 2 || res.Errors[0].Line != 2 || res.Errors[1].Line != 4 {
		t.Errorf("again: %+v", res.Errors)
	}
}

func mustID(t *testing.T, h *harness, addr string) int64 {
	a, err := h.svc.Account(h.ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func TestParseAccountCSVLimits(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		line       int
		msg        string
	}{
		{"too large", strings.Repeat("a", MaxImportBytes+1), 0, "larger than"},
		{"long line", "a@b.c,pw,0\n" + strings.Repeat("x", MaxImportLine+1), 2, "longer than"},
		{"not utf-8", "a@b.c,pw,0\nb@b.c,\xff\xfe,0\n", 2, "not UTF-8"},
		{"quote", "a@b.c,\"pw,0\n", 1, "not CSV"},
		{"rows", strings.Repeat("a@b.c,password 1,0\n", MaxImportRows+1), MaxImportRows + 1, "more than"},
		{"empty", "", 0, ""},
	} {
		rows, errs := ParseAccountCSV([]byte(tc.data))
		if tc.msg == "" {
			if len(rows) != 0 || len(errs) != 0 {
				t.Errorf("%s: %v %v", tc.name, rows, errs)
			}
			continue
		}
		if len(errs) != 1 || errs[0].Line != tc.line || !strings.Contains(errs[0].Message, tc.msg) || len(rows) != 0 {
			t.Errorf("%s: rows %d, errors %+v, want line %d %q", tc.name, len(rows), errs, tc.line, tc.msg)
		}
	}
}

func FuzzParseAccountCSV(f *testing.F) {
	f.Add([]byte("address,password,quota,name\na@example.org,secret pw 1,10M,Ann\n"))
	f.Add([]byte("a@b.c,\"x,\"\"y\",1G\n# c\n\nb@b.c,p,0,n,extra\n"))
	f.Add([]byte("\uFEFFa@b.c,\"multi\nline\",0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, errs := ParseAccountCSV(data)
		if len(rows) > MaxImportRows {
			t.Fatalf("%d rows", len(rows))
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, r := range rows {
			if r.Line < 1 || r.Line > lines || !utf8.ValidString(r.Password) {
				t.Fatalf("row %+v of %d lines", r, lines)
			}
		}
		for _, e := range errs {
			if e.Line < 0 || e.Line > lines || e.Message == "" {
				t.Fatalf("error %+v of %d lines", e, lines)
			}
		}
	})
}
