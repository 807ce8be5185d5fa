#!/usr/bin/env python3
"""Drive a POP3 session with Python's poplib, an independent POP3 client.

Reads a JSON request on stdin:
  {"host", "port", "mode": "plain" | "stls" | "ssl", "user", "pass",
   "steps": [["stat"], ["list"], ["uidl"], ["retr", n], ["top", n, k],
             ["dele", n], ["rset"], ["noop"], ["capa"], ["retrall"]],
   "quit": bool}
Login happens before the steps; "quit" (default true) ends with QUIT so
deletions apply. Prints {"welcome", "results": [...], "error"}: the first
failing step ends the session and its message goes in "error".
Message text is decoded as UTF-8 with surrogateescape so every byte survives.
"""
import json
import poplib
import ssl
import sys


def text(b):
    return b.decode("utf-8", "surrogateescape")


def run_step(p, step):
    op = step[0]
    if op == "stat":
        n, size = p.stat()
        return {"count": n, "size": size}
    if op == "list":
        resp, lines, _ = p.list()
        return {"resp": text(resp), "lines": [text(l) for l in lines]}
    if op == "uidl":
        resp, lines, _ = p.uidl()
        return {"resp": text(resp), "lines": [text(l) for l in lines]}
    if op == "retr":
        resp, lines, octets = p.retr(step[1])
        return {"resp": text(resp), "text": text(b"\r\n".join(lines) + b"\r\n"), "octets": octets}
    if op == "top":
        resp, lines, octets = p.top(step[1], step[2])
        return {"resp": text(resp), "text": text(b"\r\n".join(lines) + b"\r\n"), "octets": octets}
    if op == "dele":
        return {"resp": text(p.dele(step[1]))}
    if op == "rset":
        return {"resp": text(p.rset())}
    if op == "noop":
        return {"resp": text(p.noop())}
    if op == "capa":
        return {"capa": {k: v for k, v in p.capa().items()}}
    if op == "retrall":
        _, lines, _ = p.uidl()
        msgs = []
        for l in lines:
            num, uid = l.split(None, 1)
            _, body, octets = p.retr(int(num))
            msgs.append({"num": int(num), "uid": text(uid), "octets": octets,
                         "text": text(b"\r\n".join(body) + b"\r\n")})
        return {"messages": msgs}
    raise ValueError("unknown step " + op)


def main():
    req = json.load(sys.stdin)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = {"welcome": None, "results": [], "error": None}
    p = None
    try:
        mode = req.get("mode", "plain")
        if mode == "ssl":
            p = poplib.POP3_SSL(req["host"], req["port"], timeout=30, context=ctx)
        else:
            p = poplib.POP3(req["host"], req["port"], timeout=30)
        out["welcome"] = text(p.getwelcome())
        if mode == "stls":
            p.stls(context=ctx)
        p.user(req["user"])
        p.pass_(req["pass"])
        for step in req.get("steps", []):
            out["results"].append(run_step(p, step))
        if req.get("quit", True):
            p.quit()
            p = None
    except (poplib.error_proto, OSError, ValueError) as e:
        out["error"] = str(e)
    finally:
        if p is not None:
            try:
                p.close()
            except OSError:
                pass
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
