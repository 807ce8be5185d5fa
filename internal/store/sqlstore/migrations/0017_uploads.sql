-- Bodies JMAP clients uploaded (RFC 8620 §6.1), one row per body: the
-- purge leaves a body alone while its row is here, and the row goes once
-- it is older than a day (store.UploadTTL), whether a message took the
-- body meanwhile (its reference keeps it) or not.
CREATE TABLE uploads (
	blob_id      BIGINT PRIMARY KEY REFERENCES blobs(id),
	account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	content_type TEXT NOT NULL,
	created_at   BIGINT NOT NULL
);
CREATE INDEX uploads_created ON uploads(created_at);
CREATE INDEX uploads_account ON uploads(account_id);
