-- A search takes the bodies the text index does not fully cover (not yet
-- indexed, or cut) from this small index instead of looking up the state
-- of every message's body in the mailbox it searches.
CREATE INDEX blobs_not_fully_indexed ON blobs(id) WHERE text_state <> 0;
