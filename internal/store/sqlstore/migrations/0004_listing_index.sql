-- Light listings (listing.go): SELECT and FETCH of UID/FLAGS/sizes read
-- this covering index instead of the message rows with their cached
-- envelope and body structure, so a 100,000-message SELECT stays a short
-- sequential scan.
CREATE INDEX messages_listing ON messages(mailbox_id, uid, flags, modseq, size, internal_date, blob_id, keywords);
