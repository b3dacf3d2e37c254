-- Jobs, workers, the indexes that keep claim, reap, purge and listing cheap at any size,
-- and the trigger that publishes every new job version. Runs with search_path set to the
-- store's schema, so names are unqualified.

CREATE SEQUENCE jobs_queued_seq;

CREATE TABLE jobs (
    job_id              text COLLATE "C" PRIMARY KEY,
    task                text NOT NULL,
    status              text NOT NULL
        CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    payload             jsonb,
    created_at          timestamptz NOT NULL,
    run_at              timestamptz NOT NULL,
    max_attempts        integer NOT NULL,
    ttl_seconds         double precision NOT NULL,
    version             bigint NOT NULL DEFAULT 1,
    priority            integer NOT NULL DEFAULT 0,
    timeout_seconds     double precision,
    progress            jsonb,
    result              jsonb,
    error               text,
    attempts            integer NOT NULL DEFAULT 0,
    started_at          timestamptz,
    completed_at        timestamptz,
    expires_at          timestamptz,
    is_cancel_requested boolean NOT NULL DEFAULT false,
    idempotency_key     text UNIQUE,
    fingerprint         text,
    owner               text,
    worker_id           text,
    lease_token         text,
    lease_expires_at    timestamptz,
    -- Drawn each time the job enters the queue: equal (priority, run_at, created_at)
    -- are claimed in queueing order.
    queued_seq          bigint NOT NULL DEFAULT nextval('jobs_queued_seq')
);

ALTER SEQUENCE jobs_queued_seq OWNED BY jobs.queued_seq;

-- Claim walks this in order and stops after LIMIT rows, whatever the table's size.
CREATE INDEX jobs_ready ON jobs (task, priority DESC, run_at, created_at, queued_seq)
    WHERE status = 'queued';
-- The earliest run_at per task, for idle workers deciding how long to sleep.
CREATE INDEX jobs_scheduled ON jobs (task, run_at) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobs_listing ON jobs (created_at DESC, job_id DESC);

CREATE TABLE workers (
    worker_id    text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    running      integer NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- Stats list workers in the order they registered.
    seq          bigint GENERATED ALWAYS AS IDENTITY
);

-- Every new version of a job is announced as 'job_id:version:status' on the channel
-- 'jobqueue:<schema>', in the transaction that made it. Renewing a lease does not bump
-- the version, so heartbeats stay silent.
CREATE FUNCTION notify_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'jobqueue:' || TG_TABLE_SCHEMA,
        NEW.job_id || ':' || NEW.version || ':' || NEW.status
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_created AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION notify_job_change();
CREATE TRIGGER jobs_changed AFTER UPDATE ON jobs
    FOR EACH ROW WHEN (NEW.version <> OLD.version) EXECUTE FUNCTION notify_job_change();
