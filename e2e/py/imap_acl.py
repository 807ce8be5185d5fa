#!/usr/bin/env python3
"""A folder shared between two accounts (IMAP ACL, RFC 4314; the other
users' namespace, RFC 2342) through Python's imaplib, an independent client.

Reads {"host", "port", "owner", "grantee", "pass"} on stdin. The owner
creates Team with one message and grants the grantee "lrsw"; the grantee
lists, selects, fetches, flags, and fails to delete; the owner sees the
flag; then the owner revokes and the grantee loses the folder. Prints one
[step, typ, lines] per step, and "error".
"""
import imaplib
import json
import sys


def text(data):
    out = []
    for d in data or []:
        if isinstance(d, tuple):  # a literal: its header and its data
            d = b" ".join(d)
        if isinstance(d, bytes):
            d = d.decode("utf-8", "surrogateescape")
        out.append(str(d))
    return out


def main():
    req = json.load(sys.stdin)
    steps = []
    res = {"steps": steps, "error": None}

    def step(name, fn):
        try:
            typ, data = fn()
        except imaplib.IMAP4.error as e:  # a NO or BAD
            typ, data = "NO", [str(e)]
        steps.append([name, typ, text(data)])
        return typ

    try:
        shared = '"Other Users/%s/Team"' % req["owner"]
        owner = imaplib.IMAP4(req["host"], req["port"])
        owner.login(req["owner"], req["pass"])
        grantee = imaplib.IMAP4(req["host"], req["port"])
        grantee.login(req["grantee"], req["pass"])

        step("capability", grantee.capability)
        step("create", lambda: owner.create("Team"))
        msg = b"From: alice@example.test\r\nSubject: plans\r\n\r\nThe plan.\r\n"
        step("append", lambda: owner.append("Team", None, None, msg))
        step("setacl", lambda: owner.setacl("Team", req["grantee"], "lrsw"))
        step("getacl", lambda: owner.getacl("Team"))
        step("owner-select", lambda: owner.select("Team"))

        step("namespace", grantee.namespace)
        step("list", lambda: grantee.list())
        step("myrights", lambda: grantee.myrights(shared))
        step("select", lambda: grantee.select(shared))
        step("fetch", lambda: grantee.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        step("store-flagged", lambda: grantee.store("1", "+FLAGS", "(\\Flagged)"))
        step("store-deleted", lambda: grantee.store("1", "+FLAGS", "(\\Deleted)"))
        step("expunge", grantee.expunge)
        step("delete", lambda: grantee.delete(shared))

        def owner_noop():
            typ, _ = owner.noop()
            return typ, owner.response("FETCH")[1]
        step("owner-noop", owner_noop)

        step("deleteacl", lambda: owner.deleteacl("Team", req["grantee"]))
        step("fetch-revoked", lambda: grantee.fetch("1", "(FLAGS)"))
        step("list-revoked", lambda: grantee.list())
        step("select-revoked", lambda: grantee.select(shared))
        owner.logout()
        grantee.logout()
    except Exception as e:  # reported to the Go test
        res["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(res))


main()
