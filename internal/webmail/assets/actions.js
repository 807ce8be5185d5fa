// Message actions: keywords, moves, archive, trash, junk, empty trash.
// Each is one Email/set (in chunks of maxObjectsInSet), shown at once in
// the list and confirmed by the server's state change.

import { t } from "./i18n.js";
import { confirmDialog } from "./ui.js";

export class Actions {
  constructor(app) {
    this.app = app;
  }

  async setChunks(buildArgs, ids) {
    const api = this.app.api;
    const size = api.maxObjectsInSet;
    let failed = 0;
    for (let i = 0; i < ids.length; i += size) {
      const chunk = ids.slice(i, i + size);
      const r = await api.set("Email", buildArgs(chunk));
      failed += Object.keys(r.notUpdated || {}).length + Object.keys(r.notDestroyed || {}).length;
    }
    return failed;
  }

  async run(ids, buildArgs, doneKey, opts) {
    if (!ids.length) return;
    // The change goes out first; moving on to the next message must not
    // queue it behind the reads that follow.
    const done = this.setChunks(buildArgs, ids);
    if (opts && opts.advance) this.app.advanceFrom(ids);
    try {
      const failed = await done;
      if (failed) this.app.notify("core.someFailed", { params: { count: failed } });
      else if (doneKey) this.app.notify(doneKey, { params: { count: ids.length } });
    } catch (e) {
      this.app.notify("core.actionFailed", { params: { reason: e.message } });
    }
    this.app.list.clearSelection();
    await this.app.refresh();
  }

  async setKeyword(ids, keyword, on) {
    this.app.list.patch(ids, (e) => {
      if (on) e.keywords[keyword] = true;
      else delete e.keywords[keyword];
    });
    if (this.app.reader.email && ids.includes(this.app.reader.email.id)) {
      if (on) this.app.reader.email.keywords[keyword] = true;
      else delete this.app.reader.email.keywords[keyword];
      if (keyword === "$flagged") this.app.reader.render(this.app.reader.thread || [this.app.reader.email], this.app.reader.email.id);
    }
    await this.run(ids, (chunk) => ({ update: Object.fromEntries(chunk.map((id) => [id, { ["keywords/" + keyword]: on ? true : null }])) }), null);
  }

  async move(ids, mailboxId, opts, extraPatch) {
    const name = this.app.mailboxes.name(this.app.mailboxes.byId.get(mailboxId));
    await this.run(ids, (chunk) => ({ update: Object.fromEntries(chunk.map((id) => [id, Object.assign({ mailboxIds: { [mailboxId]: true } }, extraPatch || {})])) }),
      "core.movedTo", opts);
    void name;
  }

  async toRole(ids, role, opts, extraPatch) {
    const mb = this.app.mailboxes.byRole(role);
    if (!mb) {
      this.app.notify("core.noRoleMailbox", { params: { role: t("core.role." + role) } });
      return;
    }
    await this.move(ids, mb.id, opts, extraPatch);
  }

  archive(ids, opts) {
    return this.toRole(ids, "archive", opts);
  }

  // trash moves to Trash; in the Trash it deletes for good (after asking).
  async trash(ids, opts) {
    const trash = this.app.mailboxes.byRole("trash");
    const cur = this.app.currentMailboxId();
    const readerInTrash = this.app.reader.email && trash && this.app.reader.email.mailboxIds[trash.id];
    if (trash && (cur === trash.id || (opts && opts.advance && readerInTrash))) {
      if (!(await confirmDialog(t("core.deleteForever"), t("core.deleteForeverConfirm", { count: ids.length }), t("core.delete")))) return;
      await this.run(ids, (chunk) => ({ destroy: chunk }), "core.deleted", opts);
      return;
    }
    await this.toRole(ids, "trash", opts);
  }

  junk(ids, opts) {
    return this.toRole(ids, "junk", opts, { "keywords/$junk": true, "keywords/$notjunk": null });
  }

  notJunk(ids, opts) {
    return this.toRole(ids, "inbox", opts, { "keywords/$junk": null, "keywords/$notjunk": true });
  }

  async emptyMailbox(mb) {
    const key = mb.role === "junk" ? "core.emptyJunk" : "core.emptyTrash";
    if (!(await confirmDialog(t(key), t("core.emptyConfirm", { count: mb.totalEmails, name: this.app.mailboxes.name(mb) }), t("core.delete")))) return;
    const ids = [];
    for (let pos = 0; ; pos += 10000) {
      const r = await this.app.api.query("Email", { filter: { inMailbox: mb.id }, position: pos, limit: 10000 });
      ids.push(...r.ids);
      if (r.ids.length < 10000) break;
    }
    await this.run(ids, (chunk) => ({ destroy: chunk }), "core.deleted");
  }
}
