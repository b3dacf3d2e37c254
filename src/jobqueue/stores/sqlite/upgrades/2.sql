-- Version 1 to 2, before schema.sql runs again (it adds the new tables and indexes).
ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;
ALTER TABLE workers ADD COLUMN tasks TEXT NOT NULL DEFAULT '[]';
