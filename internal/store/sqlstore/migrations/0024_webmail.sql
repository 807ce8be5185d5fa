-- The webmail's settings. webmail_prefs: one row per account that ever
-- chose a language; webmail_trusted_senders: the senders whose HTML mail
-- loads remote images without asking (lower-case addresses).
-- server_secrets: keys the server made itself at first start (the CSRF
-- key of webmail sessions), hex. Times are Unix seconds.
CREATE TABLE webmail_prefs (
	account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	lang       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE webmail_trusted_senders (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	address    TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (account_id, address)
);
CREATE TABLE server_secrets (
	name       TEXT PRIMARY KEY,
	secret     TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
