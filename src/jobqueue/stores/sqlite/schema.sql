-- jobqueue's SQLite schema (version 2), created on first use. Every statement is
-- idempotent: an older file runs its upgrades/ steps (the column changes), then this.
-- Timestamps are integer microseconds since the Unix epoch (UTC): they sort and compare
-- as numbers. JSON columns hold orjson text.

CREATE TABLE IF NOT EXISTS jobs (
    job_id              TEXT PRIMARY KEY,
    task                TEXT NOT NULL,
    status              TEXT NOT NULL,
    payload             TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    run_at              INTEGER NOT NULL,
    max_attempts        INTEGER NOT NULL,
    ttl_seconds         REAL NOT NULL,
    -- ttl_seconds as whole microseconds, rounded as Python's timedelta rounds, so SQL
    -- can compute expires_at exactly as the other stores do.
    ttl_us              INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    priority            INTEGER NOT NULL,
    timeout_seconds     REAL,
    progress            TEXT,
    result              TEXT,
    error               TEXT,
    attempts            INTEGER NOT NULL,
    started_at          INTEGER,
    completed_at        INTEGER,
    expires_at          INTEGER,
    is_cancel_requested INTEGER NOT NULL,
    idempotency_key     TEXT,
    owner               TEXT,
    worker_id           TEXT,
    lease_expires_at    INTEGER,
    lease_token         TEXT,
    -- Jobs sharing a key share their task's key_concurrency limit (version 2).
    concurrency_key     TEXT,
    -- The tags given at submit, a JSON array (version 3).
    tags                TEXT NOT NULL DEFAULT '[]',
    -- Where its events are POSTed, {"url", "events"} as JSON (version 4).
    webhook             TEXT,
    -- The change counter's value when this row last changed (see change_counter).
    seq                 INTEGER NOT NULL
);

-- claim: best ready job of a task, in claim order.
CREATE INDEX IF NOT EXISTS jobs_ready
    ON jobs (task, priority DESC, run_at, created_at) WHERE status = 'queued';
-- next_run_at: earliest queued job of a task.
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (task, run_at) WHERE status = 'queued';
-- reap_expired_leases.
CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (lease_expires_at) WHERE status = 'processing';
-- purge_expired.
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
-- list_jobs: newest first, and cursor seeks.
CREATE INDEX IF NOT EXISTS jobs_newest ON jobs (created_at, job_id);
-- claims under key_concurrency: the running jobs of each key.
CREATE INDEX IF NOT EXISTS jobs_running_keys
    ON jobs (task, concurrency_key) WHERE status = 'processing';
-- changes from other processes.
CREATE INDEX IF NOT EXISTS jobs_seq ON jobs (seq);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL,
    fingerprint TEXT
);

-- tasks: the ones it serves, a JSON array (version 2).
CREATE TABLE IF NOT EXISTS workers (
    worker_id    TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    running      INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    tasks        TEXT NOT NULL DEFAULT '[]'
);

-- One row: bumped by every write transaction that changes a job, which stamps the
-- value on the rows it changes. Writers are serialised, so values grow in commit order
-- and "seq > last seen" finds exactly what other processes changed since.
CREATE TABLE IF NOT EXISTS change_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO change_counter (id, seq) VALUES (1, 0);

-- Hits of rate limits (Store.count_hit): one row per key and window, deleted by the purge
-- once the window has ended.
CREATE TABLE IF NOT EXISTS rate_hits (
    key   TEXT NOT NULL,
    until INTEGER NOT NULL,
    hits  INTEGER NOT NULL,
    PRIMARY KEY (key, until)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rate_hits_until ON rate_hits (until);

