-- App passwords and DKIM keys (issue #4).

-- Named passwords of an account, usable on every protocol instead of the
-- account password and revocable one by one. They are generated with 128+
-- bits of entropy, so hash is a SHA-256 digest ("sha256$<hex>"), not argon2id:
-- checking one costs nothing and a login stays as slow as before.
-- scram_sha256 holds SCRAM-SHA-256 keys derived with the account's salt and
-- iteration count, so one SCRAM exchange can try every app password.
CREATE TABLE app_passwords (
	id           INTEGER PRIMARY KEY,
	account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL,
	scram_sha256 TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	last_used    BIGINT NOT NULL DEFAULT 0,
	UNIQUE (account_id, name)
);

-- DKIM signing keys per domain (RFC 6376). Several keys of a domain may be
-- active at once (one per algorithm); a rotation adds new keys and retires the
-- old ones (active = 0), which stay listed so their DNS records can be kept
-- until mail signed with them has been delivered.
CREATE TABLE dkim_keys (
	id              INTEGER PRIMARY KEY,
	domain_id       BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	selector        TEXT NOT NULL,
	algorithm       TEXT NOT NULL,
	private_key_pem TEXT NOT NULL,
	created_at      BIGINT NOT NULL,
	active          INTEGER NOT NULL DEFAULT 1,
	UNIQUE (domain_id, selector)
);
CREATE INDEX dkim_keys_domain ON dkim_keys(domain_id, active);
