-- DMARC aggregate reports we send (RFC 7489 §7.2). A report's record
-- carries auth_results beside the aligned verdicts, so the counts gain
-- the SPF identity checked (domain, scope mfrom or helo, result) and the
-- DKIM signatures seen ('domain/selector=result' separated by spaces, in
-- the order of the message). The table is rebuilt since its primary key
-- grows; the rows counted before keep empty results.
CREATE TABLE dmarc_counts_new (
	day          BIGINT NOT NULL,
	header_from  TEXT NOT NULL,
	source_ip    TEXT NOT NULL,
	disposition  TEXT NOT NULL,
	dkim         TEXT NOT NULL,
	spf          TEXT NOT NULL,
	spf_domain   TEXT NOT NULL DEFAULT '',
	spf_scope    TEXT NOT NULL DEFAULT '',
	spf_result   TEXT NOT NULL DEFAULT '',
	dkim_results TEXT NOT NULL DEFAULT '',
	messages     BIGINT NOT NULL,
	PRIMARY KEY (day, header_from, source_ip, disposition, dkim, spf, spf_domain, spf_scope, spf_result, dkim_results)
);
INSERT INTO dmarc_counts_new (day, header_from, source_ip, disposition, dkim, spf, messages)
	SELECT day, header_from, source_ip, disposition, dkim, spf, messages FROM dmarc_counts;
DROP TABLE dmarc_counts;
ALTER TABLE dmarc_counts_new RENAME TO dmarc_counts;

-- dmarc_reports_done: the days whose report of a policy domain is done,
-- sent (report_id) or not asked for (report_id ''), so none goes twice,
-- even across a restart.
CREATE TABLE dmarc_reports_done (
	day       BIGINT NOT NULL,
	domain    TEXT NOT NULL,
	report_id TEXT NOT NULL,
	done_at   BIGINT NOT NULL,
	PRIMARY KEY (day, domain)
);
