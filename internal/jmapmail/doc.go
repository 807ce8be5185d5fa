// Package jmapmail is the RFC 8621 Mailbox data type on the JMAP core
// (internal/jmap), over store.Store: the "urn:ietf:params:jmap:mail"
// capability and the methods Mailbox/get, Mailbox/changes, Mailbox/query,
// Mailbox/queryChanges and Mailbox/set; Thread/get and Thread/changes;
// Email/get, Email/changes, Email/query, Email/queryChanges; and
// SearchSnippet/get. Register plugs them into a jmap.Server; the
// composition root calls it.
//
// What it owns:
//   - jmapmail.go: Options, Register, the capability objects, account and
//     state strings.
//   - mailbox.go: the JMAP view of the store's mailboxes: ids, names and
//     parents, roles, sort order, rights and counts.
//   - get.go, changes.go, query.go, set.go: one method each (queryChanges
//     lives in query.go).
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
