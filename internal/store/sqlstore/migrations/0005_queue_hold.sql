-- The outbound queue: a held entry is not attempted until released (postern
-- queue hold/release); warned records that the delay DSN went out, so it is
-- sent once.
ALTER TABLE queue_messages ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_messages ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queue_recipients_rcpt_status ON queue_recipients(queue_id, status);
