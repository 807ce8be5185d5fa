// Package jmapsubmit is JMAP sending (RFC 8621 §6 Identity, §7
// EmailSubmission) on the JMAP core (internal/jmap), over store.Store and
// the one delivery pipeline (internal/deliver): the
// "urn:ietf:params:jmap:submission" capability and the methods
// Identity/get, Identity/changes, Identity/set, EmailSubmission/get,
// EmailSubmission/changes, EmailSubmission/query,
// EmailSubmission/queryChanges and EmailSubmission/set. Register plugs
// them into a jmap.Server; the composition root calls it.
//
// What it owns:
//   - jmapsubmit.go: Options, Register, the capability, ids and states.
//   - methods.go: what the standard methods share (get, changes, set
//     arguments and responses), the SetError types of RFC 8621.
//   - identity.go: Identity/*.
//   - submission.go: EmailSubmission/get, /changes, /set and the implicit
//     Email/set of onSuccessUpdateEmail and onSuccessDestroyEmail.
//   - send.go: sending one Email; envelope.go: the Envelope, its checks and
//     its derivation from the header; query.go: /query and /queryChanges.
//
// Rules it does not own, and calls instead:
//   - Which addresses an account may send as: deliver.Pipeline.Owns, the
//     rule of MAIL FROM on the submission port. An Identity can be created
//     only for such an address (else forbiddenFrom); the envelope's
//     mailFrom is held to it (forbiddenMailFrom).
//   - The header of what is sent: deliver.Pipeline.CheckSubmission, the
//     rule of DATA on the submission port: From, Sender, Resent-From and
//     Resent-Sender owned by the account (else forbiddenFrom), Bcc and
//     Return-Path removed, Date and Message-ID added. Then the same DKIM
//     signer signs (Options.Signer), a Received field is added, and the
//     message goes through the pipeline with source JMAP: local copies and
//     queued remote copies committed at once, filters' replies after.
//   - Limits: the submission port's MaxMessageBytes (tooLarge, maxSize)
//     and MaxRecipients (tooManyRecipients); envelope parameters are those
//     of the extensions submission advertises (Options.Extensions, also
//     the capability's submissionExtensions): BODY, SMTPUTF8, SIZE, and
//     with DSN, RET, ENVID, NOTIFY and ORCPT, which reach the queue.
//
// Mapping to the store:
//   - Identities are store.Identity rows ("i<N>"). The identity of the
//     account's own address is made by the store on first read
//     (mayDelete false: destroying it is forbidden); its email, like every
//     identity's, never changes.
//   - Submissions are store.EmailSubmission rows ("s<N>") with the
//     envelope as sent (given or derived, RFC 8621 §7) and the delivery
//     status of each recipient at sending: "yes" for a local mailbox,
//     "queued" for what leaves. EmailSubmission/get reads the queue for
//     the queued ones: pending stays queued, delivered is "yes", failed
//     "no"; once the queue has dropped the entry (it does when every
//     recipient is done) the outcome is "unknown". dsnBlobIds and
//     mdnBlobIds are always empty.
//   - Postern sends at once: maxDelayedSend is 0, undoStatus is always
//     "final", cancelling is cannotUnsend. Records older than
//     Options.KeepFor (7 days) are purged at the next EmailSubmission/set
//     of the account, and /changes reports them destroyed.
//   - States are per-account sequences of the store, one per type, that
//     only grow (migration 0018); EmailSubmission/queryChanges always
//     answers cannotCalculateChanges.
package jmapsubmit
