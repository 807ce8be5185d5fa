#!/usr/bin/env python3
"""SEARCH, SORT and THREAD through Python's imaplib, an independent client.

Reads {"host", "port", "user", "pass", "mailbox", "ops": [[op, args...]]}
on stdin; op is "search", "sort", "thread", "uid" (args as imaplib's
methods take them) or "literal_search" ([charset, key, literal text]).
Logs in over plaintext (loopback), selects the mailbox and runs each op.
Prints {"capabilities", "results": [[typ, [line...]]], "error"}; a failed
op gives ["ERROR", [message]] and the rest still run.
"""
import imaplib
import json
import sys


def text(data):
    out = []
    for d in data or []:
        if isinstance(d, tuple):
            d = d[0]
        if isinstance(d, bytes):
            d = d.decode("utf-8", "surrogateescape")
        out.append("" if d is None else str(d))
    return out


def main():
    req = json.load(sys.stdin)
    res = {"error": None, "results": []}
    try:
        m = imaplib.IMAP4(req["host"], req["port"])
        res["capabilities"] = sorted(m.capabilities)
        m.login(req["user"], req["pass"])
        m.select(req.get("mailbox", "INBOX"))
        for op in req["ops"]:
            name, args = op[0], op[1:]
            try:
                if name == "literal_search":
                    m.literal = args[2].encode("utf-8")
                    typ, data = m.search(args[0], args[1])
                else:
                    typ, data = getattr(m, name)(*args)
                res["results"].append([typ, text(data)])
            except imaplib.IMAP4.error as e:
                res["results"].append(["ERROR", [str(e)]])
        m.logout()
    except (imaplib.IMAP4.error, OSError) as e:
        res["error"] = str(e)
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
