-- The delivery log: one row per step of a message's way (accepted,
-- delivered, queued, relayed, deferred, bounced, rejected, and the
-- administrator's queue actions), written in the transaction of the
-- change it tells of. at is Unix milliseconds (a trace shows steps a few
-- ms apart), delay_ms the time since acceptance. msg is the id of the
-- message's first row: every row of one message (its queue entries'
-- included) carries it.
--
-- Rows are inserted in time order, so ids order them by time too: pruning
-- and the hourly counts find their start by id. The table's own indexes
-- take increasing keys only (msg, and queue ids), so a delivery's rows
-- append to the last pages: an index on a random key (a transaction id, a
-- Message-ID, an address) would dirty a page of its own per message and
-- grow every commit. Those keys go to delivery_log_keys instead, filled a
-- few seconds later in large batches (IndexLog); searches read the rows
-- not indexed yet directly.
CREATE TABLE delivery_log (
	id         INTEGER PRIMARY KEY,
	msg        BIGINT NOT NULL,
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
CREATE INDEX delivery_log_msg ON delivery_log(msg);
CREATE INDEX delivery_log_queue ON delivery_log(queue_id) WHERE queue_id <> 0;

-- Search keys: the 64-bit FNV-1a hash of 't:' transaction id, 'm:'
-- Message-ID or 'a:' address (sender or recipient), with the msg of the
-- rows that carry it. A hash is a quarter of the size of the text and
-- compares at once, and a collision only adds a message to a result.
CREATE TABLE delivery_log_keys (
	h   BIGINT NOT NULL,
	msg BIGINT NOT NULL,
	PRIMARY KEY (h, msg)
) WITHOUT ROWID;
CREATE INDEX delivery_log_keys_msg ON delivery_log_keys(msg);
