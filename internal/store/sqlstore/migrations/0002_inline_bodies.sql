-- Small bodies live in the database itself (blob.DefaultInlineMax): a row in a
-- group-committed transaction costs far less than creating a file. NULL means
-- the body is the file blobs/<key[:2]>/<key>.
ALTER TABLE blobs ADD COLUMN data BLOB;
