-- Sieve scripts (RFC 5228) of accounts, edited over ManageSieve (RFC 5804),
-- the CLI and later the webmail; at most one per account is active.
CREATE TABLE sieve_scripts (
	id         INTEGER PRIMARY KEY,
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	source     BLOB NOT NULL,
	active     INTEGER NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL,
	UNIQUE (account_id, name)
);
CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts(account_id) WHERE active = 1;

-- The administrator's scripts run for every account before and after its own.
CREATE TABLE sieve_global (
	name       TEXT PRIMARY KEY CHECK (name IN ('before', 'after')),
	source     BLOB NOT NULL,
	updated_at BIGINT NOT NULL
);

-- What scripts remember between deliveries: vacation replies sent (RFC 5230
-- §4.2, once per period per sender) and message ids seen by the duplicate
-- test (RFC 7352). Rows expire; expired ones are dropped when the account
-- records the next.
CREATE TABLE sieve_tracking (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	key        TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (account_id, key)
) WITHOUT ROWID;
CREATE INDEX sieve_tracking_expiry ON sieve_tracking(account_id, expires_at);
