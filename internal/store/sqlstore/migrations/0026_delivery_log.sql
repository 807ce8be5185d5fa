-- The delivery log: one row per step of a message's way (accepted,
-- delivered, queued, relayed, deferred, bounced, rejected, and the
-- administrator's queue actions), written in the transaction of the
-- change it tells of. Rows are inserted in time order, so the row id
-- orders them by time too: pruning and the hourly counts find their start
-- by id, and no index on the time is kept up at every delivery. at is Unix
-- milliseconds (a trace shows steps a few ms apart), delay_ms the time
-- since acceptance. Only the rows that carry a key are in its index.
CREATE TABLE delivery_log (
	id         INTEGER PRIMARY KEY,
	at         BIGINT NOT NULL,
	kind       TEXT NOT NULL,
	txn_id     TEXT NOT NULL DEFAULT '',
	message_id TEXT NOT NULL DEFAULT '',
	queue_id   BIGINT NOT NULL DEFAULT 0,
	source     TEXT NOT NULL DEFAULT '',
	sender     TEXT NOT NULL DEFAULT '',
	rcpt       TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT '',
	delay_ms   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX delivery_log_txn ON delivery_log(txn_id) WHERE txn_id <> '';
CREATE INDEX delivery_log_message_id ON delivery_log(message_id) WHERE message_id <> '';
CREATE INDEX delivery_log_queue ON delivery_log(queue_id) WHERE queue_id <> 0;
CREATE INDEX delivery_log_sender ON delivery_log(sender) WHERE sender <> '';
CREATE INDEX delivery_log_rcpt ON delivery_log(rcpt) WHERE rcpt <> '';
