-- The SQLite store's statements, one per "-- name:" section. Each runs inside a
-- transaction the store opens (BEGIN IMMEDIATE for writes).

-- name: ping
SELECT 1;

-- name: next_seq
UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq;

-- name: last_seq
SELECT seq FROM change_counter WHERE id = 1;

-- name: changes_since
SELECT job_id, version, status, seq FROM jobs WHERE seq > :seq ORDER BY seq;

-- name: get_job
SELECT * FROM jobs
WHERE job_id = :job_id AND (expires_at IS NULL OR expires_at > :now);

-- name: find_key
SELECT k.fingerprint AS key_fingerprint, j.*
FROM idempotency_keys AS k JOIN jobs AS j USING (job_id)
WHERE k.key = :key AND (j.expires_at IS NULL OR j.expires_at > :now);

-- name: insert_job
INSERT INTO jobs (
    job_id, task, status, payload, created_at, run_at, max_attempts, ttl_seconds, ttl_us,
    version, priority, timeout_seconds, attempts, is_cancel_requested, idempotency_key,
    owner, concurrency_key, tags, webhook, seq
) VALUES (
    :job_id, :task, 'queued', :payload, :created_at, :run_at, :max_attempts, :ttl_seconds,
    :ttl_us, 1, :priority, :timeout_seconds, 0, 0, :idempotency_key, :owner,
    :concurrency_key, :tags, :webhook, :seq
)
RETURNING *;

-- name: save_key
INSERT INTO idempotency_keys (key, job_id, fingerprint) VALUES (:key, :job_id, :fingerprint)
ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, fingerprint = excluded.fingerprint;

-- name: list_jobs
-- The row-value bound is always present (a far-future sentinel without a cursor) so the
-- scan seeks into jobs_newest instead of skipping earlier pages row by row.
SELECT * FROM jobs
WHERE (created_at, job_id) < (:before_created_at, :before_job_id)
  AND (expires_at IS NULL OR expires_at > :now)
  AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
  AND (:tasks IS NULL OR task IN (SELECT value FROM json_each(:tasks)))
  AND (:owner IS NULL OR owner = :owner)
  AND (:tag IS NULL OR :tag IN (SELECT value FROM json_each(tags)))
ORDER BY created_at DESC, job_id DESC
LIMIT :limit;

-- name: count_queued
-- The queued jobs of :task when :of_task, of every task when :in_all (0 when not asked).
SELECT
    CASE WHEN :of_task
        THEN (SELECT count(*) FROM jobs WHERE status = 'queued' AND task = :task) ELSE 0
    END AS of_task,
    CASE WHEN :in_all THEN (SELECT count(*) FROM jobs WHERE status = 'queued') ELSE 0 END AS in_all;

-- name: count_hit
INSERT INTO rate_hits (key, until, hits) VALUES (:key, :until, 1)
ON CONFLICT (key, until) DO UPDATE SET hits = hits + 1
RETURNING hits;

-- name: purge_hits
DELETE FROM rate_hits WHERE until <= :now;

-- name: count_jobs
SELECT task, status, count(*) AS n FROM jobs
WHERE expires_at IS NULL OR expires_at > :now
GROUP BY task, status;

-- name: busiest_keys
-- The concurrency keys with the most running jobs, per task.
SELECT task, concurrency_key AS key, count(*) AS n FROM jobs
WHERE status = 'processing' AND concurrency_key IS NOT NULL
GROUP BY task, concurrency_key
ORDER BY n DESC
LIMIT :limit;

-- name: running_per_worker
-- The jobs each worker holds now (the stats' running counts, current to the claim).
SELECT worker_id, count(*) AS n FROM jobs WHERE status = 'processing' GROUP BY worker_id;

-- name: recent_workers
SELECT * FROM workers WHERE last_seen_at >= :since ORDER BY worker_id;

-- name: ready_jobs
-- Per task, so each lookup is a short walk down jobs_ready however many jobs wait; ties go
-- in insertion order (rowid, the index's last column).
-- INDEXED BY: left to itself the planner takes jobs_waiting for the run_at range and
-- sorts every ready job, which grows with the queue (measured: 40x slower at 300k jobs).
SELECT rowid, job_id, priority, run_at, created_at, concurrency_key FROM jobs INDEXED BY jobs_ready
WHERE status = 'queued' AND task = :task AND run_at <= :now
ORDER BY priority DESC, run_at, created_at, rowid
LIMIT :limit;

-- name: queued_place
-- The job's place in its task's claim order (ready_jobs' order), when it is queued and due.
SELECT task, priority, run_at, created_at, rowid AS place FROM jobs
WHERE job_id = :job_id AND status = 'queued' AND run_at <= :now;

-- name: count_ahead
-- The ready jobs of :task that a claim takes before queued_place's, each part counted up to
-- :limit along jobs_ready: those of a higher priority, then those of the same priority that
-- come earlier by run_at, created_at and insertion order.
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM jobs INDEXED BY jobs_ready
        WHERE status = 'queued' AND task = :task AND priority > :priority AND run_at <= :now
        LIMIT :limit))
    + (SELECT count(*) FROM (
        SELECT 1 FROM jobs INDEXED BY jobs_ready
        WHERE status = 'queued' AND task = :task AND priority = :priority
          AND (run_at, created_at, rowid) < (:run_at, :created_at, :place)
        LIMIT :limit)) AS ahead;

-- name: ready_jobs_outside
-- ready_jobs, leaving out the jobs of the :saturated keys and the :chosen jobs (JSON arrays).
SELECT rowid, job_id, priority, run_at, created_at, concurrency_key FROM jobs INDEXED BY jobs_ready
WHERE status = 'queued' AND task = :task AND run_at <= :now
  AND (concurrency_key IS NULL
       OR concurrency_key NOT IN (SELECT value FROM json_each(:saturated)))
  AND job_id NOT IN (SELECT value FROM json_each(:chosen))
ORDER BY priority DESC, run_at, created_at, rowid
LIMIT :limit;

-- name: running_keys
-- The running jobs of :task per concurrency key ('' counts those without one).
SELECT coalesce(concurrency_key, '') AS key, count(*) AS n FROM jobs
WHERE status = 'processing' AND task = :task
GROUP BY concurrency_key;

-- name: claim_job
UPDATE jobs SET
    status = 'processing',
    version = version + 1,
    attempts = attempts + 1,
    started_at = :now,
    worker_id = :worker_id,
    lease_expires_at = :lease_expires_at,
    lease_token = lower(hex(randomblob(16))),
    seq = :seq
WHERE job_id IN (SELECT value FROM json_each(:job_ids))
RETURNING *;

-- name: renew_lease
UPDATE jobs SET lease_expires_at = :lease_expires_at
WHERE job_id = :job_id AND status = 'processing' AND lease_token = :token
RETURNING is_cancel_requested;

-- name: record_progress
UPDATE jobs SET progress = :progress, version = version + 1, seq = :seq
WHERE job_id = :job_id AND status = 'processing' AND lease_token = :token
RETURNING *;

-- name: end_attempt
-- The worker holding the lease ends its attempt: as a final :status at :completed_at (the
-- job expires ttl_us later), or back to 'queued' to run at :run_at (:uncount = 1 gives the
-- attempt back). NULL keeps the run_at, result or error.
UPDATE jobs SET
    status = :status,
    run_at = coalesce(:run_at, run_at),
    attempts = attempts - :uncount,
    result = coalesce(:result, result),
    error = coalesce(:error, error),
    version = version + 1,
    completed_at = :completed_at,
    expires_at = :completed_at + ttl_us,
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    seq = :seq
WHERE job_id = :job_id AND status = 'processing' AND lease_token = :token
RETURNING *;

-- name: next_run_at
SELECT min(run_at) FROM jobs WHERE status = 'queued' AND task = :task;

-- name: cancel_queued
UPDATE jobs SET
    status = 'cancelled',
    error = :error,
    version = version + 1,
    completed_at = :now,
    expires_at = :now + ttl_us,
    seq = :seq
WHERE job_id = :job_id AND status = 'queued'
RETURNING *;

-- name: flag_cancel
UPDATE jobs SET is_cancel_requested = 1, version = version + 1, seq = :seq
WHERE job_id = :job_id AND status = 'processing'
RETURNING *;

-- name: retry_job
UPDATE jobs SET
    status = 'queued',
    run_at = :now,
    attempts = 0,
    error = NULL,
    result = NULL,
    progress = NULL,
    started_at = NULL,
    completed_at = NULL,
    expires_at = NULL,
    is_cancel_requested = 0,
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    version = version + 1,
    seq = :seq
WHERE job_id = :job_id AND status IN ('failed', 'cancelled')
RETURNING *;

-- name: expired_leases
SELECT job_id FROM jobs
WHERE status = 'processing' AND lease_expires_at <= :now
ORDER BY lease_expires_at
LIMIT :limit;

-- name: reap_leases
-- Requested cancellation wins; then a job with attempts left is queued again at once,
-- and one without fails. SET expressions all read the row as it was.
UPDATE jobs SET
    status = CASE
        WHEN is_cancel_requested THEN 'cancelled'
        WHEN attempts >= max_attempts THEN 'failed'
        ELSE 'queued' END,
    error = CASE WHEN is_cancel_requested THEN :cancelled_error ELSE :lost_error END,
    run_at = CASE
        WHEN NOT is_cancel_requested AND attempts < max_attempts THEN :now ELSE run_at END,
    completed_at = CASE
        WHEN is_cancel_requested OR attempts >= max_attempts THEN :now ELSE completed_at END,
    expires_at = CASE
        WHEN is_cancel_requested OR attempts >= max_attempts THEN :now + ttl_us
        ELSE expires_at END,
    version = version + 1,
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    seq = :seq
WHERE job_id IN (SELECT value FROM json_each(:job_ids))
RETURNING *;

-- name: purge_jobs
DELETE FROM jobs WHERE job_id IN (
    SELECT job_id FROM jobs WHERE expires_at <= :now ORDER BY expires_at LIMIT :limit
)
RETURNING job_id, idempotency_key;

-- name: forget_key
-- Only while the key still names the purged job: it may name a newer one by now.
DELETE FROM idempotency_keys WHERE key = :key AND job_id = :job_id;

-- name: save_worker
INSERT INTO workers (worker_id, host, pid, running, last_seen_at, tasks)
VALUES (:worker_id, :host, :pid, :running, :last_seen_at, :tasks)
ON CONFLICT (worker_id) DO UPDATE SET
    host = excluded.host,
    pid = excluded.pid,
    running = excluded.running,
    last_seen_at = excluded.last_seen_at,
    tasks = excluded.tasks;

-- name: forget_worker
DELETE FROM workers WHERE worker_id = :worker_id;
