#!/usr/bin/env python3
"""Submit one message with Python's smtplib, choosing the SASL mechanism.

Reads a JSON request on stdin:
  {"host", "port", "ssl": bool, "starttls": bool, "mech": "PLAIN"|"LOGIN",
   "user", "password", "from", "to": [...], "msg": str}
Prints one JSON object: {"ok", "auth": [code, text], "mechs": str, "error"}.
"""
import json
import smtplib
import ssl
import sys


def main():
    req = json.load(sys.stdin)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = {"ok": False, "auth": None, "mechs": "", "error": None}
    try:
        if req.get("ssl"):
            s = smtplib.SMTP_SSL(req["host"], req["port"], timeout=30, context=ctx)
        else:
            s = smtplib.SMTP(req["host"], req["port"], timeout=30)
        with s:
            s.ehlo("py.example.net")
            if req.get("starttls"):
                s.starttls(context=ctx)
                s.ehlo("py.example.net")
            out["mechs"] = s.esmtp_features.get("auth", "")
            s.user, s.password = req["user"], req["password"]
            mech = req["mech"].upper()
            fn = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
            # LOGIN without an initial response: the Username: challenge path.
            code, text = s.auth(mech, fn, initial_response_ok=(mech == "PLAIN"))
            out["auth"] = [code, text.decode("utf-8", "replace")]
            s.sendmail(req["from"], req["to"], req["msg"].encode("utf-8"))
            out["ok"] = True
    except smtplib.SMTPResponseException as e:
        msg = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        out["error"] = {"type": type(e).__name__, "code": e.smtp_code, "msg": msg}
    except smtplib.SMTPRecipientsRefused as e:
        out["error"] = {"type": "recipients", "code": 0, "msg": str(e.recipients)}
    except (smtplib.SMTPException, OSError) as e:
        out["error"] = {"type": type(e).__name__, "code": 0, "msg": str(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
