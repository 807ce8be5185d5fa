-- What the last attempt for a recipient met: the peer it talked to and
-- whether the connection was encrypted ("none", "tls", "tls-verified"),
-- for `postern queue show` and the admin's trace.
ALTER TABLE queue_recipients ADD COLUMN last_peer TEXT NOT NULL DEFAULT '';
ALTER TABLE queue_recipients ADD COLUMN last_tls TEXT NOT NULL DEFAULT '';
