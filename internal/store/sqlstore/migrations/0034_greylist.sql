-- Greylisting's triplets (RFC 6647): the client network (IPv4 /24, IPv6
-- /64), the normalised envelope sender and the recipient. first_seen is
-- when the wait began; pass_until, once a retry came after the wait, is
-- when the triplet must wait again (0: not passed yet). Times in Unix
-- seconds.
CREATE TABLE greylist (
	network    TEXT NOT NULL,
	sender     TEXT NOT NULL,
	rcpt       TEXT NOT NULL,
	first_seen BIGINT NOT NULL,
	pass_until BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (network, sender, rcpt)
);
CREATE INDEX greylist_first_seen ON greylist (first_seen);
CREATE INDEX greylist_pass_until ON greylist (pass_until);
