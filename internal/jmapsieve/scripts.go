package jmapsieve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"postern/internal/admin"
	"postern/internal/jmap"
	"postern/internal/store"
)

// SieveScript ids are "s" and the store's script id ("s7"), kept across
// renames. A script's content is the blob "s<id>-<hash>": the id and the
// first 16 hex digits of the SHA-256 of the source, so a blobId names one
// version of one script and stops resolving when the script changes.

var scriptProperties = []string{"id", "name", "blobId", "isActive"}

func scriptID(id int64) string { return "s" + strconv.FormatInt(id, 10) }

func parseScriptID(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, "s")
	if !ok || rest == "" || len(rest) > 19 || rest[0] == '0' || strings.ContainsAny(rest, "+-") {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

func sourceHash(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:8])
}

func scriptBlobID(sc store.SieveScript) string {
	return scriptID(sc.ID) + "-" + sourceHash(sc.Source)
}

// IsScriptBlobID tells whether blobID is a script content this package
// serves (see Handler.Blobs).
func IsScriptBlobID(blobID string) bool {
	_, _, ok := parseScriptBlobID(blobID)
	return ok
}

func parseScriptBlobID(blobID string) (id int64, hash string, ok bool) {
	sid, hash, found := strings.Cut(blobID, "-")
	if !found || len(hash) != 16 || strings.Trim(hash, "0123456789abcdef") != "" {
		return 0, "", false
	}
	id, ok = parseScriptID(sid)
	return id, hash, ok
}

// scriptObject is the SieveScript (RFC 9661 §3) of sc.
func scriptObject(sc store.SieveScript, props []string) map[string]any {
	o := make(map[string]any, len(props))
	for _, p := range props {
		switch p {
		case "id":
			o[p] = scriptID(sc.ID)
		case "name":
			o[p] = sc.Name
		case "blobId":
			o[p] = scriptBlobID(sc)
		case "isActive":
			o[p] = sc.Active
		}
	}
	return o
}

// scriptState is the state of an account's scripts: a hash of what a
// client sees of them.
func scriptState(list []store.SieveScript) string {
	h := sha256.New()
	for _, sc := range list {
		io.WriteString(h, scriptID(sc.ID)+"\x00"+sc.Name+"\x00"+strconv.FormatBool(sc.Active)+"\x00"+sourceHash(sc.Source)+"\n")
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

type sieveCapability struct {
	Implementation      string   `json:"implementation"`
	MaxSizeScriptName   int      `json:"maxSizeScriptName"`
	MaxSizeScript       int      `json:"maxSizeScript"`
	MaxNumberScripts    int      `json:"maxNumberScripts"`
	MaxNumberRedirects  *int     `json:"maxNumberRedirects"`
	SieveExtensions     []string `json:"sieveExtensions"`
	NotificationMethods []string `json:"notificationMethods"`
	ExternalLists       []string `json:"externalLists"`
}

// sieveCapability is the account capability of RFC 9661 §2: the same
// limits ManageSieve announces.
func (h *Handler) sieveCapability() sieveCapability {
	c := sieveCapability{Implementation: "Postern", MaxSizeScriptName: admin.MaxSieveScriptName,
		MaxSizeScript: admin.MaxSieveScriptSize, MaxNumberScripts: admin.MaxSieveScripts,
		SieveExtensions: h.o.SieveExtensions}
	if c.SieveExtensions == nil {
		c.SieveExtensions = []string{}
	}
	if h.o.MaxRedirects > 0 {
		n := h.o.MaxRedirects
		c.MaxNumberRedirects = &n
	}
	return c
}

// scriptGet is SieveScript/get (RFC 9661 §3.1).
func (h *Handler) scriptGet(ctx context.Context, c *jmap.Call) (any, error) {
	var a getArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	props, err := selectProperties(a.Properties, scriptProperties)
	if err != nil {
		return nil, err
	}
	if a.IDs != nil {
		if err := c.CheckGet(len(*a.IDs)); err != nil {
			return nil, err
		}
	}
	list, err := h.o.Store.SieveScripts(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	resp := getResponse{AccountID: a.AccountID, State: scriptState(list), List: []map[string]any{}, NotFound: []string{}}
	if a.IDs == nil {
		for _, sc := range list {
			resp.List = append(resp.List, scriptObject(sc, props))
		}
		return resp, nil
	}
	seen := map[string]bool{}
	for _, id := range *a.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		if sc, ok := findScript(c, list, id); ok {
			resp.List = append(resp.List, scriptObject(sc, props))
		} else {
			resp.NotFound = append(resp.NotFound, id)
		}
	}
	return resp, nil
}

// findScript finds a script by id or "#creationId" (RFC 8620 §5.3).
func findScript(c *jmap.Call, list []store.SieveScript, id string) (store.SieveScript, bool) {
	if len(id) > 1 && id[0] == '#' {
		var ok bool
		if id, ok = c.CreatedIDs[id[1:]]; !ok {
			return store.SieveScript{}, false
		}
	}
	n, ok := parseScriptID(id)
	if !ok {
		return store.SieveScript{}, false
	}
	for _, sc := range list {
		if sc.ID == n {
			return sc, true
		}
	}
	return store.SieveScript{}, false
}

// scriptChanges is SieveScript/changes. The store keeps no history of
// scripts, so any state but the current one is cannotCalculateChanges
// (RFC 8620 §5.2 allows it): the client gets the list again, at most
// admin.MaxSieveScripts small objects.
func (h *Handler) scriptChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a changesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	if a.MaxChanges != nil && *a.MaxChanges <= 0 {
		return nil, jmap.NewError(jmap.InvalidArguments, "maxChanges must be a positive integer")
	}
	list, err := h.o.Store.SieveScripts(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	state := scriptState(list)
	if a.SinceState != state {
		return nil, jmap.NewError(jmap.CannotCalculateChanges, "get the scripts again")
	}
	return changesResponse{AccountID: a.AccountID, OldState: state, NewState: state,
		Created: []string{}, Updated: []string{}, Destroyed: []string{}}, nil
}

// checkScriptFilter accepts the FilterCondition of RFC 9661 §3.3.
func checkScriptFilter(cond map[string]json.RawMessage) error {
	for k, v := range cond {
		var err error
		switch k {
		case "name":
			var s string
			err = json.Unmarshal(v, &s)
		case "isActive":
			var b bool
			err = json.Unmarshal(v, &b)
		default:
			return jmap.NewError(jmap.UnsupportedFilter, "unknown filter property "+k)
		}
		if err != nil {
			return jmap.NewError(jmap.InvalidArguments, "filter "+k+": wrong type")
		}
	}
	return nil
}

func scriptMatches(sc store.SieveScript) func(map[string]json.RawMessage) bool {
	return func(cond map[string]json.RawMessage) bool {
		if v, ok := cond["name"]; ok {
			var s string
			json.Unmarshal(v, &s)
			if !strings.Contains(strings.ToLower(sc.Name), strings.ToLower(s)) {
				return false
			}
		}
		if v, ok := cond["isActive"]; ok {
			var b bool
			json.Unmarshal(v, &b)
			if sc.Active != b {
				return false
			}
		}
		return true
	}
}

// scriptQuery is SieveScript/query (RFC 9661 §3.3): filter by name
// (a case-insensitive substring) and isActive, sort by name or isActive.
func (h *Handler) scriptQuery(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	acct, err := h.account(ctx, c, a.AccountID)
	if err != nil {
		return nil, err
	}
	f, err := decodeFilter(a.Filter, checkScriptFilter)
	if err != nil {
		return nil, err
	}
	if err := checkSort(a.Sort, "name", "isActive"); err != nil {
		return nil, err
	}
	all, err := h.o.Store.SieveScripts(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	var list []store.SieveScript
	for _, sc := range all {
		if f.matches(scriptMatches(sc)) {
			list = append(list, sc)
		}
	}
	order := make([]int, len(list))
	for i := range order {
		order[i] = i
	}
	sortBy(order, a.Sort, func(p string, i, j int) int {
		if p == "isActive" {
			return cmpInt(boolInt(list[i].Active), boolInt(list[j].Active))
		}
		return strings.Compare(strings.ToLower(list[i].Name), strings.ToLower(list[j].Name))
	})
	ids := make([]string, len(order))
	for k, i := range order {
		ids[k] = scriptID(list[i].ID)
	}
	return window(ids, a, scriptState(all))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scriptQueryChanges is SieveScript/queryChanges: cannotCalculateChanges,
// as SieveScript/changes.
func (h *Handler) scriptQueryChanges(ctx context.Context, c *jmap.Call) (any, error) {
	var a queryChangesArgs
	if err := c.Decode(&a); err != nil {
		return nil, err
	}
	if _, err := h.account(ctx, c, a.AccountID); err != nil {
		return nil, err
	}
	return nil, jmap.NewError(jmap.CannotCalculateChanges, "query again")
}

// Blobs returns the jmap.Blobs to serve: downloads of script blob ids are
// answered here, everything else by next (uploads; nil refuses them).
func (h *Handler) Blobs(next jmap.Blobs) jmap.Blobs { return scriptBlobs{h: h, next: next} }

type scriptBlobs struct {
	h    *Handler
	next jmap.Blobs
}

var errNoUploads = errors.New("jmapsieve: no upload store configured")

func (b scriptBlobs) Upload(ctx context.Context, accountID, contentType string, r io.Reader, max int64) (jmap.BlobInfo, error) {
	if b.next == nil {
		return jmap.BlobInfo{}, errNoUploads
	}
	return b.next.Upload(ctx, accountID, contentType, r, max)
}

func (b scriptBlobs) Download(ctx context.Context, accountID, blobID string) (io.ReadCloser, int64, string, error) {
	if !IsScriptBlobID(blobID) {
		if b.next == nil {
			return nil, 0, "", jmap.ErrBlobNotFound
		}
		return b.next.Download(ctx, accountID, blobID)
	}
	acct, ok := jmap.ParseAccountID(accountID)
	if !ok {
		return nil, 0, "", jmap.ErrBlobNotFound
	}
	src, err := b.h.scriptBlob(ctx, acct, blobID)
	if err != nil {
		return nil, 0, "", err
	}
	return io.NopCloser(bytes.NewReader(src)), int64(len(src)), "application/sieve", nil
}

// scriptBlob returns the content of a script blob id of the account, or
// jmap.ErrBlobNotFound.
func (h *Handler) scriptBlob(ctx context.Context, accountID int64, blobID string) ([]byte, error) {
	id, hash, ok := parseScriptBlobID(blobID)
	if !ok {
		return nil, jmap.ErrBlobNotFound
	}
	list, err := h.o.Store.SieveScripts(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, sc := range list {
		if sc.ID == id && sourceHash(sc.Source) == hash {
			return sc.Source, nil
		}
	}
	return nil, jmap.ErrBlobNotFound
}
