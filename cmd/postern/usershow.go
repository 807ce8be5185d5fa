package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"postern/internal/admin"
)

// writeAccount prints one account for `user show`, a "key: value" line
// each; times in UTC.
func writeAccount(w io.Writer, a admin.Account) {
	state := "enabled"
	if a.Disabled {
		state = "disabled (no logins; mail is still received)"
	}
	limit := func(n int64, unit string) string {
		if n == 0 {
			return "unlimited"
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	fmt.Fprintf(w, "address:    %s\n", a.Address)
	fmt.Fprintf(w, "state:      %s\n", state)
	fmt.Fprintf(w, "quota:      %s, %s\n", limit(a.QuotaBytes, "bytes"), limit(a.QuotaMessages, "messages"))
	fmt.Fprintf(w, "used:       %d bytes, %d messages\n", a.UsedBytes, a.UsedMessages)
	fmt.Fprintf(w, "created:    %s\n", a.CreatedAt.UTC().Format(time.RFC3339))
	if len(a.LastLogin) == 0 {
		fmt.Fprintf(w, "last login: never\n")
		return
	}
	protos := make([]string, 0, len(a.LastLogin))
	for p := range a.LastLogin {
		protos = append(protos, p)
	}
	slices.Sort(protos)
	for i, p := range protos {
		head := "last login:"
		if i > 0 {
			head = strings.Repeat(" ", len(head))
		}
		fmt.Fprintf(w, "%s %-12s%s\n", head, p, a.LastLogin[p].UTC().Format(time.RFC3339))
	}
}
