// The mailbox tree: folders with unread counts and special-use icons,
// create/rename/delete, and drop targets for moving messages.

import { el, icon, button, promptText, confirmDialog } from "./ui.js";
import { t, formatNumber } from "./i18n.js";

export const ROLE_ICONS = {
  inbox: "i-inbox", drafts: "i-draft", sent: "i-send", archive: "i-archive",
  junk: "i-junk", trash: "i-trash", all: "i-folder", flagged: "i-flag",
};

export const DRAG_TYPE = "application/x-postern-emails";

export class Mailboxes {
  constructor(app) {
    this.app = app;
    this.list = [];
    this.byId = new Map();
    this.state = null;
    this.collapsed = new Set(JSON.parse(localStorage.getItem("postern.collapsed") || "[]"));
    this.root = el("nav", { class: "tree", "data-test": "mailbox-tree", "aria-label": t("core.folders") });
  }

  async load() {
    const r = await this.app.api.get("Mailbox", null, ["name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails", "myRights"]);
    this.state = r.state;
    this.list = r.list;
    this.byId = new Map(r.list.map((m) => [m.id, m]));
    this.render();
    return this.list;
  }

  byRole(role) {
    return this.list.find((m) => m.role === role);
  }

  // displayName: special folders get their translated name.
  name(mb) {
    if (!mb) return "";
    if (mb.role && ROLE_ICONS[mb.role]) return t("core.role." + mb.role);
    return mb.name;
  }

  // findByName matches a name or role for "in:" searches.
  findByName(name) {
    const low = name.toLowerCase();
    return this.list.find((m) => (m.role && m.role === low) || m.name.toLowerCase() === low || this.name(m).toLowerCase() === low);
  }

  children(parentId) {
    return this.list
      .filter((m) => (m.parentId || null) === parentId)
      .sort((a, b) => (a.sortOrder - b.sortOrder) || a.name.localeCompare(b.name));
  }

  // ordered: depth-first with depth, for menus.
  ordered() {
    const out = [];
    const walk = (pid, depth) => {
      for (const m of this.children(pid)) {
        out.push({ mb: m, depth });
        walk(m.id, depth + 1);
      }
    };
    walk(null, 0);
    return out;
  }

  render() {
    const active = this.app.currentMailboxId();
    this.root.textContent = "";
    this.root.setAttribute("aria-label", t("core.folders"));
    const ul = el("ul", { class: "tree-list", role: "tree" });
    const walk = (pid, depth, parentUl) => {
      for (const m of this.children(pid)) {
        const kids = this.children(m.id);
        const li = el("li", { role: "treeitem", "aria-expanded": kids.length ? String(!this.collapsed.has(m.id)) : undefined });
        const a = el("a", {
          class: "mailbox" + (m.id === active ? " active" : "") + (m.unreadEmails ? " has-unread" : ""),
          href: "/f/" + encodeURIComponent(m.id),
          "data-test": "mailbox",
          "data-id": m.id,
          "data-role": m.role || "",
          "aria-current": m.id === active ? "page" : undefined,
        });
        a.style.paddingInlineStart = (0.75 + depth * 1) + "rem";
        if (kids.length) {
          const tog = el("span", { class: "twisty", role: "button", "aria-label": t(this.collapsed.has(m.id) ? "core.expand" : "core.collapse") });
          tog.append(icon(this.collapsed.has(m.id) ? "i-chevron-right" : "i-chevron-down"));
          tog.addEventListener("click", (e) => {
            e.preventDefault();
            e.stopPropagation();
            if (this.collapsed.has(m.id)) this.collapsed.delete(m.id);
            else this.collapsed.add(m.id);
            localStorage.setItem("postern.collapsed", JSON.stringify([...this.collapsed]));
            this.render();
          });
          a.append(tog);
        }
        a.append(icon(ROLE_ICONS[m.role] || "i-folder"), el("span", { class: "mailbox-name", text: this.name(m) }));
        if (m.unreadEmails) {
          a.append(el("span", { class: "badge", "data-test": "unread-count", "aria-label": t("core.unreadCount", { count: m.unreadEmails }), text: formatNumber(m.unreadEmails) }));
        }
        a.addEventListener("click", (e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
          e.preventDefault();
          this.app.navigate("/f/" + m.id);
        });
        this.dropTarget(a, m);
        li.append(a);
        parentUl.append(li);
        if (kids.length && !this.collapsed.has(m.id)) {
          const sub = el("ul", { role: "group" });
          li.append(sub);
          walk(m.id, depth + 1, sub);
        }
      }
    };
    walk(null, 0, ul);
    this.root.append(ul);
    const tools = el("div", { class: "tree-tools" });
    tools.append(button({ icon: "i-plus", label: t("core.newFolder"), test: "folder-create", onClick: () => this.create() }));
    const cur = this.byId.get(active);
    if (cur && !cur.role) {
      tools.append(
        button({ icon: "i-plus", label: t("core.newSubfolder", { name: cur.name }), test: "folder-create-sub", iconOnly: true, onClick: () => this.create(cur) }),
        button({ icon: "i-edit", label: t("core.renameFolder"), test: "folder-rename", iconOnly: true, onClick: () => this.rename(cur) }),
        button({ icon: "i-trash", label: t("core.deleteFolder"), test: "folder-delete", iconOnly: true, onClick: () => this.destroy(cur) }),
      );
    }
    this.root.append(tools);
  }

  dropTarget(node, mb) {
    node.addEventListener("dragover", (e) => {
      if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      node.classList.add("drop");
    });
    node.addEventListener("dragleave", () => node.classList.remove("drop"));
    node.addEventListener("drop", (e) => {
      node.classList.remove("drop");
      const data = e.dataTransfer.getData(DRAG_TYPE);
      if (!data) return;
      e.preventDefault();
      const ids = JSON.parse(data);
      this.app.actions.move(ids, mb.id);
    });
  }

  async create(parent) {
    const title = parent ? t("core.newSubfolder", { name: parent.name }) : t("core.newFolder");
    const name = await promptText(title, t("core.folderName"), "", "folder-name");
    if (!name) return;
    await this.setOne({ create: { n: { name, parentId: parent ? parent.id : null } } }, "created", "n");
  }

  async rename(mb) {
    const name = await promptText(t("core.renameFolder"), t("core.folderName"), mb.name, "folder-name");
    if (!name || name === mb.name) return;
    await this.setOne({ update: { [mb.id]: { name } } }, "updated", mb.id);
  }

  async destroy(mb) {
    const ok = await confirmDialog(t("core.deleteFolder"), t("core.deleteFolderConfirm", { name: mb.name, count: mb.totalEmails }), t("core.delete"));
    if (!ok) return;
    const done = await this.setOne({ destroy: [mb.id], onDestroyRemoveEmails: true }, "destroyed", mb.id);
    if (done && this.app.currentMailboxId() === mb.id) {
      const inbox = this.byRole("inbox");
      this.app.navigate(inbox ? "/f/" + inbox.id : "/");
    }
  }

  async setOne(args, kind, key) {
    try {
      const r = await this.app.api.set("Mailbox", args);
      const failed = r["not" + kind[0].toUpperCase() + kind.slice(1)];
      if (failed && failed[key]) {
        this.app.notify("core.folderError", { params: { reason: failed[key].description || failed[key].type } });
        return false;
      }
      await this.load();
      return true;
    } catch (e) {
      this.app.notify("core.folderError", { params: { reason: e.message } });
      return false;
    }
  }
}
