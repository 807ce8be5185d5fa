-- DMARC evaluations of received mail, counted for aggregate reports
-- (RFC 7489 §7.2): one row per day (Unix seconds of midnight UTC), author
-- domain (the From domain), source IP, disposition (none, quarantine,
-- reject) and the aligned DKIM and SPF results (pass or fail), with how
-- many messages had them. Only domains that publish a DMARC record are
-- counted. The inbound checks add to the counts in batches.
CREATE TABLE dmarc_counts (
	day         BIGINT NOT NULL,
	header_from TEXT NOT NULL,
	source_ip   TEXT NOT NULL,
	disposition TEXT NOT NULL,
	dkim        TEXT NOT NULL,
	spf         TEXT NOT NULL,
	messages    BIGINT NOT NULL,
	PRIMARY KEY (day, header_from, source_ip, disposition, dkim, spf)
);
