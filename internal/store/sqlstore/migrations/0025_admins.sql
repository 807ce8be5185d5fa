-- Administrators of the admin listener (issue 11), their sessions and API
-- tokens, and the audit log of every admin change. Administrators are not
-- mail accounts: they cannot receive mail or log in to IMAP, and a mail
-- account's credentials never open the admin API. Times are Unix seconds.
CREATE TABLE admins (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,            -- server | domain
	domains       TEXT NOT NULL DEFAULT '', -- comma-separated, for role domain
	totp_secret   TEXT NOT NULL DEFAULT '', -- base32; '' = no second factor
	totp_step     BIGINT NOT NULL DEFAULT 0, -- the last TOTP time step used: no code twice
	created_at    BIGINT NOT NULL,
	last_login    BIGINT NOT NULL DEFAULT 0
);

-- Login sessions (kind 'session', idle expiry) and API tokens for scripts
-- (kind 'api', named, no expiry). Only the SHA-256 digest of the token is
-- kept, as for access_tokens.
CREATE TABLE admin_tokens (
	id         INTEGER PRIMARY KEY,
	admin_id   BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	hash       TEXT NOT NULL UNIQUE, -- hex
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0, -- 0: never
	last_used  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX admin_tokens_admin ON admin_tokens(admin_id, kind);

-- One row per admin change, whoever made it (CLI, admin API, webmail).
CREATE TABLE admin_audit (
	id      INTEGER PRIMARY KEY,
	at      BIGINT NOT NULL,
	actor   TEXT NOT NULL,
	remote  TEXT NOT NULL DEFAULT '',
	action  TEXT NOT NULL,
	target  TEXT NOT NULL,
	details TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_audit_actor ON admin_audit(actor, id);
CREATE INDEX admin_audit_target ON admin_audit(target, id);
