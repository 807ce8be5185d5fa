-- delivery_log_keys led by an era of msg ids (msg / 65536, see
-- logKeyEraShift): the keys are hashes, so with (h, msg) as the key a
-- batch of IndexLog inserts landed on pages all over the table, and a
-- batch dirtied (and logged, and checkpointed) more pages the larger the
-- log grew: the delivery rate fell as the store grew. Within an era the
-- inserts touch the era's pages only, a bounded number; a search looks
-- the hash up era by era, newest first.
CREATE TABLE delivery_log_keys_by_era (
	era BIGINT NOT NULL,
	h   BIGINT NOT NULL,
	msg BIGINT NOT NULL,
	PRIMARY KEY (era, h, msg)
) WITHOUT ROWID;
INSERT INTO delivery_log_keys_by_era (era, h, msg) SELECT msg / 65536, h, msg FROM delivery_log_keys;
DROP TABLE delivery_log_keys;
ALTER TABLE delivery_log_keys_by_era RENAME TO delivery_log_keys;
