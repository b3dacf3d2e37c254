-- Where a job's events are POSTed: {"url", "events"}, or NULL.
ALTER TABLE jobs ADD COLUMN webhook jsonb;
