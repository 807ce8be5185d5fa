-- An account's vacation response (JMAP VacationResponse, RFC 8621 §8): one
-- row per account that ever set it. The delivery filter acts on an enabled
-- one as on a Sieve vacation action, whatever the account's own scripts.
-- Dates are Unix seconds, NULL for no bound; NULL texts mean "the server's
-- default". version moves at every change: the JMAP state.
CREATE TABLE vacation_responses (
	account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	enabled    INTEGER NOT NULL DEFAULT 0,
	from_date  BIGINT,
	to_date    BIGINT,
	subject    TEXT,
	text_body  TEXT,
	html_body  TEXT,
	version    BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
