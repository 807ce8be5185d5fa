// Package jmapmail is the RFC 8621 mail data types on the JMAP core
// (internal/jmap), over store.Store: the "urn:ietf:params:jmap:mail"
// capability with Mailbox/get, Mailbox/changes, Mailbox/query,
// Mailbox/queryChanges, Mailbox/set, Thread/get, Thread/changes,
// Email/get, Email/changes, Email/query, Email/queryChanges, Email/set,
// Email/copy, Email/import, Email/parse and SearchSnippet/get; the
// "urn:ietf:params:jmap:blob" capability (RFC 9404) with Blob/upload,
// Blob/get and Blob/lookup; and Blobs, the jmap.Blobs behind the upload
// and download endpoints (RFC 8620 §6). Register plugs the methods into a
// jmap.Server and NewBlobs makes the Blobs for jmap.Options; the
// composition root calls both.
//
// What it owns:
//   - jmapmail.go: Options, Register, the capability objects, account and
//     state strings.
//   - mailbox.go: the JMAP view of the store's mailboxes: ids, names and
//     parents, roles, sort order, rights and counts.
//   - get.go, changes.go, query.go, set.go: one method each (queryChanges
//     lives in query.go).
//   - messages.go, thread.go, email_get.go: Thread and Email over the
//     store's messages.
//   - email_body.go: the body properties of an Email (bodyStructure,
//     textBody, htmlBody, attachments by the algorithm of RFC 8621
//     §4.1.4, bodyValues) and of its EmailBodyParts; email_header.go:
//     headers and header:{name}[:as{Form}][:all] on emails and parts;
//     decode.go: transfer and charset decoding as streams.
//   - email_parse.go: Email/parse of an uploaded message or an attached
//     one.
//   - stored.go: StoredEmail, a stored message opened for the webmail
//     (OpenEmail): its htmlBody parts, a part by Content-ID, decoded text
//     and parts, the raw message; the same code as Email/get.
//   - blobs.go: blob ids, who may read a blob, openBlob (for every method
//     that reads a blob by id), upload and download; blob_methods.go: the
//     RFC 9404 methods.
//   - email_set.go, email_create.go, email_import.go, email_copy.go:
//     Email/set, Email/import and Email/copy (RFC 8621 §4.6–§4.8), under
//     the account lock Mailbox/set takes. keywords.go maps JMAP keywords
//     to IMAP flags and back ($seen \Seen, $flagged \Flagged, $answered
//     \Answered, $draft \Draft, others as IMAP keywords in lower case;
//     \Deleted is never shown and kept). mailboxIds is the one mailbox of
//     a store message (maxMailboxesPerEmail 1): a change of it is the
//     store's move, which keeps the email id; Email/copy is the store's
//     copy, within the login's one account.
//   - draft.go, draft_body.go, draft_header.go, draft_mime.go: an Email
//     create object checked and bounded (maxDraftParts, maxDraftDepth,
//     maxDraftFields), laid out (alternative, related, mixed) and written
//     as RFC 5322 + MIME, streamed into a store body.
//   - email_query.go (Email/query: the two paths, paging, thread keyword
//     sets), query_filter.go (the filter: decoding with limits, and its
//     translation into internal/query criteria per mailbox),
//     email_changes.go (Email/changes), email_querychanges.go
//     (Email/queryChanges), snippet.go (SearchSnippet/get).
//
// Mapping to the store:
//
//   - Ids: a Mailbox id is "m" followed by the decimal store.Mailbox.ID
//     ("m7"); it never changes, also across renames, and the store never
//     gives it to another mailbox (storetest MailboxIDsNotReused).
//   - Names: the store keeps full names with "/" between levels. A JMAP
//     name is the part after the nearest existing ancestor, and parentId
//     that ancestor's id: "Lists/Go" under "Lists" is {name: "Go",
//     parentId: <Lists>}; when "Lists" does not exist (IMAP clients can make
//     such trees), "Lists/Go" is top-level with name "Lists/Go", so
//     siblings keep unique names and a rename never loses a level. Names
//     the client sets may not contain "/".
//   - Roles come from INBOX (role "inbox") and the RFC 6154 special-use
//     attributes (\Drafts "drafts", \Sent "sent", \Archive "archive",
//     \Junk "junk", \Trash "trash"). A role is chosen at create; the
//     store cannot change a special-use afterwards.
//   - sortOrder: the store keeps none, so it is derived from the role
//     (inbox 1, drafts 2, sent 3, archive 4, junk 5, trash 6, others 10).
//     A sortOrder a client sends is accepted and ignored, and the value in
//     force is returned in the created/updated object (RFC 8620 §5.3).
//   - States: the state of Mailbox is the decimal account modseq
//     (store.Mailstore.AccountModSeq); every change in the account moves
//     it, mail too, since the counts change with mail.
//   - Counts: totalEmails and unreadEmails from MailboxStatus;
//     totalThreads and unreadThreads from the thread id of every message
//     of the account (Changes since 0) and the \Seen flags (MessageFlags),
//     computed only when asked for, with the RFC 8621 §2 definitions
//     (a thread is unread if an unseen message of it is outside the
//     trash, or in this mailbox when it is the trash).
//   - Blob ids: "b<N>" is stored body N whole: a message's blobId, or an
//     upload (kept by the store for a day, store.UploadTTL, unless a
//     message uses it); "b<N>p<path>" is the part at IMAP section path
//     <path> of body N, transfer encoding undone ("b12p1.2"). Inside a
//     message/rfc822 part the numbering goes on ("b12p3.1" is the first
//     part of the message attached as part 3), so Email/parse of an
//     attached message gives part blob ids that open like any other. An
//     account may read body N when one of its messages uses it, or it
//     uploaded it; any other blob id is not found, existing or not.
//   - partId is the part's IMAP section path ("1" for a single-part
//     message, "" never: a multipart has none).
//   - Email/get reads the message's blob only for the properties that
//     need its bytes: references, sender, replyTo, headers, header:*,
//     body values, and the decoded size of a part with a transfer
//     encoding (counted by decoding up to 1 MiB; a larger base64 part is
//     measured from its line count and last octets, a larger
//     quoted-printable one gets its encoded size). The metadata
//     properties never open it.
//   - Limits: a header block is read up to 256 KiB; a body value up to
//     16 MiB (and maxBodyValueBytes), and the body values of one call up
//     to 32 MiB together; Blob/get data up to 16 MiB per call
//     (isTruncated beyond; digests cover the whole range).
//   - Uploads are limited to maxSizeUpload and to what is left of the
//     account's quota (store.Account.QuotaBytes - UsedBytes): over it the
//     endpoint answers 413, Blob/upload the SetError overQuota.
//
// Email/query:
//
//   - Filters and sorts: every one of RFC 8621 §4.4, with the collations
//     the core advertises; the mapping onto internal/query is in that
//     package's doc comment. No sort given means receivedAt, newest
//     first; ties are broken by email id in the direction of the first
//     sort. A limit above 10,000 (or none) is cut to it.
//   - The webmail's list ({inMailbox}, sorted by receivedAt, with or
//     without collapseThreads) is read from the store's received-order
//     index (Mailstore.MessagesByDate) up to the end of the page; only it
//     says canCalculateChanges, and only it has Email/queryChanges (any
//     other is cannotCalculateChanges). A list of one mailbox by
//     receivedAt with conditions on light rows (the unread) reads the same
//     index a batch at a time. Every other query searches the
//     mailboxes its filter can match (light rows, with their threads);
//     thread conditions and thread sorts read the account's light listing.
//   - queryState is the account modseq, read before the results.
//
// Limits of the store this package works around are written beside the
// code: Mailbox/changes cannot read when a mailbox was created (see
// classify in changes.go), and Mailbox/queryChanges always answers
// cannotCalculateChanges.
package jmapmail
