-- Jobs sharing a concurrency key share their task's key_concurrency limit; claims count
-- the running jobs of each key through the partial index.
ALTER TABLE jobs ADD COLUMN concurrency_key text;
CREATE INDEX jobs_running_keys ON jobs (task, concurrency_key) WHERE status = 'processing';
-- The tasks each worker serves, for the stats.
ALTER TABLE workers ADD COLUMN tasks text[] NOT NULL DEFAULT '{}';
