-- RFC 5321 §4.5.1: every domain accepts mail for postmaster (and, by
-- custom, abuse). postmaster is where such mail goes when no account or
-- alias of that name exists: an address the administrator names, or, when
-- empty, the domain's oldest account.
ALTER TABLE domains ADD COLUMN postmaster TEXT NOT NULL DEFAULT '';
