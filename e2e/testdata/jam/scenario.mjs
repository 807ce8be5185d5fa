// scenario.mjs drives Postern's JMAP API with jmap-jam, an independent
// client, the way a mail app would: session, mailboxes, a query with a
// result reference, flag and move, upload and import, a draft sent with
// EmailSubmission. It prints one JSON object of what it saw on stdout;
// e2e/jmap_jam_test.go checks that object and then looks at the mail over
// IMAP. Any JMAP error makes it exit non-zero with the error on stderr.
//
// Environment: SESSION_URL, TOKEN (a bearer token), RCPT (where to send).
import JamClient from "jmap-jam";

// jmap-jam throws JMAP errors as plain objects (or arrays of them):
// print them whole so a failing test says which method refused what.
process.on("unhandledRejection", (err) => {
  process.stderr.write("jmap-jam: " + (err instanceof Error ? err.stack + (err.cause ? "\ncause: " + JSON.stringify(err.cause) : "") : JSON.stringify(err)) + "\n");
  process.exit(1);
});

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const jam = new JamClient({ sessionUrl: env("SESSION_URL"), bearerToken: env("TOKEN") });
const out = {};

const session = await jam.session;
const accountId = await jam.getPrimaryAccount();
out.username = session.username;
out.accountId = accountId;
out.capabilities = Object.keys(session.capabilities).sort();

const [boxes] = await jam.api.Mailbox.get({ accountId, ids: null, properties: ["name", "role", "totalEmails", "unreadEmails"] });
const byRole = (role) => boxes.list.find((m) => m.role === role);
const inbox = byRole("inbox");
const drafts = byRole("drafts");
const sent = byRole("sent");
out.inboxTotal = inbox.totalEmails;

const [made] = await jam.api.Mailbox.set({ accountId, create: { jam: { name: "Jam", parentId: null } } });
const jamBox = made.created.jam.id;

// Email/query and Email/get in one request, joined by a result reference.
const [listed] = await jam.requestMany((t) => {
  const query = t.Email.query({
    accountId,
    filter: { inMailbox: inbox.id },
    sort: [{ property: "receivedAt", isAscending: false }],
    limit: 10,
    calculateTotal: true,
  });
  const emails = t.Email.get({
    accountId,
    ids: query.$ref("/ids"),
    properties: ["subject", "from", "keywords", "mailboxIds", "preview", "textBody", "bodyValues"],
    fetchTextBodyValues: true,
  });
  return { query, emails };
});
out.queryTotal = listed.query.total;
out.subjects = listed.emails.list.map((e) => e.subject);
const first = listed.emails.list[0];
out.firstFrom = first.from[0].email;
out.firstBody = first.bodyValues[first.textBody[0].partId].value;

// Flag the newest message and move it to the new folder.
const [flagged] = await jam.api.Email.set({
  accountId,
  update: { [first.id]: { "keywords/$seen": true, "keywords/$flagged": true, mailboxIds: { [jamBox]: true } } },
});
out.updated = Object.keys(flagged.updated ?? {});

// Upload a whole message and import it into the folder.
const raw = [
  "From: Importer <importer@example.net>",
  `To: ${session.username}`,
  "Subject: Imported by jam",
  "Message-ID: <jam-import@example.net>",
  "Date: Mon, 30 Nov 2026 10:00:00 +0000",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "This message came in through Email/import.",
  "",
].join("\r\n");
const uploaded = await jam.uploadBlob(accountId, new Blob([raw], { type: "message/rfc822" }));
out.uploadSize = uploaded.size;
const [imported] = await jam.api.Email.import({
  accountId,
  emails: { imp: { blobId: uploaded.blobId, mailboxIds: { [jamBox]: true }, keywords: { $seen: true }, receivedAt: "2026-11-30T10:00:00Z" } },
});
out.importedId = imported.created.imp.id;

// A draft, sent at once, then moved from Drafts to Sent without $draft.
const [ids] = await jam.api.Identity.get({ accountId, ids: null });
const identity = ids.list.find((i) => i.email === session.username);
const [drafted] = await jam.api.Email.set({
  accountId,
  create: {
    draft: {
      mailboxIds: { [drafts.id]: true },
      keywords: { $draft: true, $seen: true },
      from: [{ name: "Jam Tester", email: session.username }],
      to: [{ email: env("RCPT") }],
      subject: "Sent by jam",
      textBody: [{ partId: "body", type: "text/plain" }],
      bodyValues: { body: { value: "Hello from jmap-jam, through EmailSubmission." } },
    },
  },
});
if (!drafted.created?.draft) throw new Error("draft refused: " + JSON.stringify(drafted.notCreated));
out.draftId = drafted.created.draft.id;
// jmap-jam keys the responses of one request by call id, and the implicit
// Email/set of onSuccessUpdateEmail shares the EmailSubmission/set call id
// (RFC 8621 §7.5): request() returns the first response, the submission's.
const [submitted] = await jam.api.EmailSubmission.set({
  accountId,
  create: { send: { emailId: out.draftId, identityId: identity.id } },
  onSuccessUpdateEmail: {
    "#send": { [`mailboxIds/${drafts.id}`]: null, [`mailboxIds/${sent.id}`]: true, "keywords/$draft": null },
  },
});
if (!submitted.created?.send) throw new Error("submission refused: " + JSON.stringify(submitted.notCreated));
out.submissionId = submitted.created.send.id;

const [after] = await jam.api.Email.get({ accountId, ids: [out.draftId], properties: ["mailboxIds", "keywords"] });
out.sentMailboxes = Object.keys(after.list[0].mailboxIds);
out.sentKeywords = Object.keys(after.list[0].keywords).sort();
out.sentBoxId = sent.id;

process.stdout.write(JSON.stringify(out) + "\n");
