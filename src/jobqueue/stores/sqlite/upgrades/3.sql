-- Version 2 to 3, before schema.sql runs again.
ALTER TABLE jobs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
