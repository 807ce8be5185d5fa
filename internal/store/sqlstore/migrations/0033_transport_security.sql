-- Outbound transport security and reports (RFC 8461, 8460, 8689, 7489 §7.2).
-- mta_sts_policies: the durable cache of recipient domains' MTA-STS policies.
CREATE TABLE mta_sts_policies (
	domain     TEXT PRIMARY KEY,
	policy_id  TEXT NOT NULL,
	body       TEXT NOT NULL,
	fetched_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);

-- tls_results: outbound TLS sessions counted per day, policy domain, policy,
-- MX host, address and result ('' for success), for TLS-RPT.
CREATE TABLE tls_results (
	day           TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	policy_type   TEXT NOT NULL,
	policy_string TEXT NOT NULL,
	mx_host       TEXT NOT NULL,
	receiving_ip  TEXT NOT NULL,
	result_type   TEXT NOT NULL,
	sessions      BIGINT NOT NULL,
	PRIMARY KEY (day, policy_domain, policy_type, policy_string, mx_host, receiving_ip, result_type)
);

-- tls_reports_sent: the daily reports that went out, so none goes twice.
CREATE TABLE tls_reports_sent (
	day     TEXT NOT NULL,
	domain  TEXT NOT NULL,
	sent_at BIGINT NOT NULL,
	PRIMARY KEY (day, domain)
);

-- received_reports: TLS-RPT and DMARC aggregate reports about our domains.
CREATE TABLE received_reports (
	id          INTEGER PRIMARY KEY,
	kind        TEXT NOT NULL,
	domain      TEXT NOT NULL,
	org_name    TEXT NOT NULL,
	report_id   TEXT NOT NULL,
	begin_at    BIGINT NOT NULL,
	end_at      BIGINT NOT NULL,
	received_at BIGINT NOT NULL,
	sender      TEXT NOT NULL,
	total       BIGINT NOT NULL,
	failed      BIGINT NOT NULL,
	body        TEXT NOT NULL,
	UNIQUE (kind, org_name, report_id)
);
CREATE INDEX received_reports_domain ON received_reports(kind, domain, received_at);

-- A message sent with REQUIRETLS (RFC 8689) travels only over verified TLS.
ALTER TABLE queue_messages ADD COLUMN require_tls INTEGER NOT NULL DEFAULT 0;
