-- The time of each account's last successful login per protocol (imap,
-- pop3, smtp, jmap, webmail, managesieve), shown to administrators. The
-- server writes it in batches, at most once a minute per account and
-- protocol, never on a login's own path. Times are Unix seconds.
CREATE TABLE last_logins (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	protocol   TEXT NOT NULL,
	at         BIGINT NOT NULL,
	PRIMARY KEY (account_id, protocol)
);
