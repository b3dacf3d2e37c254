-- The tags given at submit; a listing by tag finds them through the GIN index.
ALTER TABLE jobs ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
CREATE INDEX jobs_tags ON jobs USING gin (tags);
