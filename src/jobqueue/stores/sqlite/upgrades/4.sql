-- Version 3 to 4, before schema.sql runs again.
ALTER TABLE jobs ADD COLUMN webhook TEXT;
