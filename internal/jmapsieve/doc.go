// Package jmapsieve is three small JMAP data types over the admin service
// and the store: the account's vacation response (RFC 8621 §8,
// "urn:ietf:params:jmap:vacationresponse"), its Sieve scripts (RFC 9661,
// "urn:ietf:params:jmap:sieve") and its quotas (RFC 9425,
// "urn:ietf:params:jmap:quota"). New builds a Handler; Register plugs its
// methods into a jmap.Server, and Blobs wraps the server's blob store so
// script contents can be downloaded. The composition root does both.
//
// What it owns:
//   - jmapsieve.go: Options, Register, accounts, the mapping of the admin
//     service's refusals to SetErrors.
//   - vacation.go: VacationResponse/get and /set.
//   - scripts.go: SieveScript ids and blob ids, /get, /changes, /query,
//     /queryChanges, the sieve capability, script downloads.
//   - scripts_set.go: SieveScript/set and /validate.
//   - quota.go: Quota/get, /changes, /query, /queryChanges.
//   - query.go: filters, sorts and windows of the /query methods.
//
// One vacation, not two. VacationResponse is the store's per-account
// vacation setting (store.Vacation, migration 0019), checked by the admin
// service (admin.CheckVacation, also behind `postern vacation`). It is not
// a generated Sieve script, so a ManageSieve user's active script stays as
// it is: at delivery, the Sieve filter (internal/sievefilter) runs the
// scripts and then acts on an enabled vacation response within
// fromDate/toDate as a `vacation :days 7` action, through the same checks,
// once-per-sender record and reply builder as a script's vacation; a
// script that replies itself wins, and a message the scripts discard gets
// no reply. The state of VacationResponse is the setting's version.
//
// Sieve scripts are the ones ManageSieve sees: every change goes through
// the admin service's Sieve rules (names, sizes, count, compilation), and
// Options.Changed lets the delivery filter see it at once.
//
//   - Ids: a SieveScript id is "s" and the store's script id ("s7"), kept
//     across renames. Its blobId is "s<id>-<16 hex digits of the SHA-256
//     of the source>": it names one version of the content and stops
//     resolving once the script changes. Handler.Blobs serves these ids
//     on the download route and passes every other id on.
//   - Content: a create or update takes the blobId of another script, or
//     of an uploaded blob read through Options.Uploads (jmap.Blobs
//     satisfies BlobReader), at most admin.MaxSieveScriptSize octets.
//   - SetErrors: invalidSieve (the compiler's message with its line and
//     column), tooLarge, overQuota (too many scripts), alreadyExists (with
//     existingId), blobNotFound (with notFound), sieveIsActive (destroying
//     the active script), invalidProperties, notFound.
//   - SieveScript/validate answers a blob that cannot be read with its
//     SetError (blobNotFound, tooLarge) in "error", as an invalid script.
//   - States: a hash of what the client sees of the scripts. The store
//     keeps no history of scripts, so /changes from any other state and
//     /queryChanges answer cannotCalculateChanges.
//
// Quotas: "storage" (octets) and "messages" (count), each present only
// when the administrator set that limit, with the usage the store counts
// at every delivery and expunge (the numbers IMAP GETQUOTA shows). The
// state is the four numbers, so Quota/changes can tell from any state
// which quota appeared, changed or went; Quota/queryChanges answers
// cannotCalculateChanges.
package jmapsieve
