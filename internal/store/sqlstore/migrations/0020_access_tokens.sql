-- Bearer tokens of the HTTP API (JMAP, webmail). The token is 32 random
-- bytes given to the client once; only its SHA-256 digest is kept, so a
-- copy of the database does not let anyone in. expires_at moves forward on
-- use (idle timeout). Times are Unix seconds.
CREATE TABLE access_tokens (
	id         INTEGER PRIMARY KEY,
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	hash       TEXT NOT NULL UNIQUE, -- hex
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	last_used  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_account ON access_tokens(account_id, expires_at);
