-- The statements of PostgresStore, one per "-- name:" section. Every time ("now") is a
-- parameter: the server's clock never decides anything. Versions are bumped here, and
-- the notify_job_change trigger announces each new version.

-- name: insert_job
INSERT INTO jobs (
    job_id, task, status, payload, created_at, run_at, max_attempts, ttl_seconds,
    priority, timeout_seconds, idempotency_key, fingerprint, owner, concurrency_key, tags,
    webhook
) VALUES (
    %(job_id)s, %(task)s, 'queued', %(payload)s, %(created_at)s, %(run_at)s,
    %(max_attempts)s, %(ttl_seconds)s, %(priority)s, %(timeout_seconds)s,
    %(idempotency_key)s, %(fingerprint)s, %(owner)s, %(concurrency_key)s, %(tags)s,
    %(webhook)s
)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING *;

-- name: lock_by_key
SELECT * FROM jobs WHERE idempotency_key = %(key)s FOR UPDATE;

-- name: free_key
UPDATE jobs SET idempotency_key = NULL WHERE job_id = %(job_id)s;

-- name: get_job
SELECT * FROM jobs
WHERE job_id = %(job_id)s AND (expires_at IS NULL OR expires_at > %(now)s);

-- name: lock_job
SELECT * FROM jobs
WHERE job_id = %(job_id)s AND (expires_at IS NULL OR expires_at > %(now)s)
FOR UPDATE;

-- name: list_jobs
SELECT * FROM jobs
WHERE (expires_at IS NULL OR expires_at > %(now)s) AND {filters}
ORDER BY created_at DESC, job_id DESC
LIMIT %(limit)s;

-- name: lock_queue
-- Serialises the creates that a queue cap bounds (those of %(task)s, and of every task when
-- %(in_all)s) until their transactions end, so the count each one checks stays true.
SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':queued:' || %(task)s, 0)),
    CASE WHEN %(in_all)s
        THEN pg_advisory_xact_lock(hashtextextended(current_schema() || ':queued', 0))
    END;

-- name: count_queued
-- The queued jobs of %(task)s when %(of_task)s, of every task when %(in_all)s (else 0).
SELECT
    CASE WHEN %(of_task)s
        THEN (SELECT count(*) FROM jobs WHERE status = 'queued' AND task = %(task)s) ELSE 0
    END AS of_task,
    CASE WHEN %(in_all)s
        THEN (SELECT count(*) FROM jobs WHERE status = 'queued') ELSE 0
    END AS in_all;

-- name: count_jobs
SELECT task, status, count(*) AS n FROM jobs
WHERE expires_at IS NULL OR expires_at > %(now)s
GROUP BY task, status;

-- name: running_per_worker
-- The jobs each worker holds now (the stats' running counts, current to the claim).
SELECT worker_id, count(*) AS n FROM jobs WHERE status = 'processing' GROUP BY worker_id;

-- name: recent_workers
SELECT * FROM workers WHERE last_seen_at >= %(horizon)s ORDER BY seq;

-- name: ready_to_claim
-- The jobs a claim takes when no running jobs need counting: one index walk per task, each
-- stopping at the task's room of unlocked rows, then the best of those while their costs
-- add up to at most %(slots)s (a single "task = ANY(...)" scan would have to sort every
-- ready job of the tasks; queued_seq is unique, so the running sum has no ties).
WITH candidates AS (
    SELECT c.job_id, sum(t.cost) OVER (
        ORDER BY c.priority DESC, c.run_at, c.created_at, c.queued_seq
    ) AS spent
    FROM unnest(%(tasks)s::text[], %(rooms)s::int[], %(costs)s::int[]) AS t(task, room, cost)
    CROSS JOIN LATERAL (
        SELECT job_id, priority, run_at, created_at, queued_seq
        FROM jobs
        WHERE status = 'queued' AND jobs.task = t.task AND run_at <= %(now)s
        ORDER BY priority DESC, run_at, created_at, queued_seq
        LIMIT t.room
        FOR UPDATE SKIP LOCKED
    ) AS c
)
SELECT job_id FROM candidates WHERE spent <= %(slots)s

-- name: chosen_to_claim
-- The jobs that the statements below chose and locked, in the same transaction.
SELECT unnest(%(job_ids)s::text[]) AS job_id

-- name: claim
-- The claim of the jobs picked by `ready_to_claim` or `chosen_to_claim` (see _rows.py).
WITH picked AS ({picked})
UPDATE jobs SET
    status = 'processing',
    version = jobs.version + 1,
    attempts = jobs.attempts + 1,
    started_at = %(now)s,
    worker_id = %(worker_id)s,
    lease_expires_at = %(lease_expires_at)s,
    lease_token = replace(gen_random_uuid()::text, '-', '')
FROM picked
WHERE jobs.job_id = picked.job_id
RETURNING jobs.*;

-- name: lock_claims
-- Serialises the claims of a task whose running jobs they count, until each one commits.
SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':claims:' || %(task)s, 0));

-- name: running_keys
-- The running jobs of %(task)s per concurrency key ('' counts those without one).
SELECT coalesce(concurrency_key, '') AS key, count(*) AS n FROM jobs
WHERE status = 'processing' AND task = %(task)s
GROUP BY concurrency_key;

-- name: ready_jobs_outside
-- The best ready jobs of %(task)s, leaving out the jobs of the %(saturated)s keys and the
-- %(chosen)s jobs.
SELECT job_id, priority, run_at, created_at, queued_seq, concurrency_key FROM jobs
WHERE status = 'queued' AND task = %(task)s AND run_at <= %(now)s
  AND (concurrency_key IS NULL OR concurrency_key <> ALL(%(saturated)s::text[]))
  AND job_id <> ALL(%(chosen)s::text[])
ORDER BY priority DESC, run_at, created_at, queued_seq
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: heartbeat
UPDATE jobs SET lease_expires_at = %(lease_expires_at)s
FROM unnest(%(job_ids)s::text[], %(tokens)s::text[]) AS held(job_id, token)
WHERE jobs.job_id = held.job_id AND jobs.lease_token = held.token
    AND jobs.status = 'processing'
RETURNING jobs.job_id, jobs.lease_token, jobs.is_cancel_requested;

-- name: record_progress
UPDATE jobs SET progress = %(progress)s, version = version + 1
WHERE job_id = %(job_id)s AND status = 'processing' AND lease_token = %(token)s
RETURNING *;

-- name: finish
-- Ends an attempt (fenced by the worker's token) or a queued job (token NULL, as queued
-- jobs have none). A NULL result or error keeps the stored one.
UPDATE jobs SET
    status = %(status)s,
    version = version + 1,
    completed_at = %(now)s,
    expires_at = %(now)s + make_interval(secs => ttl_seconds),
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    result = coalesce(%(result)s, result),
    error = coalesce(%(error)s, error)
WHERE job_id = %(job_id)s AND status = %(from_status)s
    AND lease_token IS NOT DISTINCT FROM %(token)s
RETURNING *;

-- name: complete_many
-- Ends several attempts successfully, each fenced by its own token; an attempt whose
-- lease was lost matches nothing and is left out of the answer.
UPDATE jobs SET
    status = 'completed',
    version = jobs.version + 1,
    completed_at = %(now)s,
    expires_at = %(now)s + make_interval(secs => jobs.ttl_seconds),
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    result = done.result
FROM unnest(%(job_ids)s::text[], %(tokens)s::text[], %(results)s::json[])
    AS done(job_id, token, result)
WHERE jobs.job_id = done.job_id AND jobs.status = 'processing'
    AND jobs.lease_token = done.token
RETURNING jobs.job_id;

-- name: requeue
-- A running attempt goes back to the queue (fenced by its token). A NULL error keeps
-- the stored one.
UPDATE jobs SET
    status = 'queued',
    version = version + 1,
    run_at = %(run_at)s,
    attempts = attempts - %(uncounted)s,
    error = coalesce(%(error)s, error),
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    queued_seq = nextval('jobs_queued_seq')
WHERE job_id = %(job_id)s AND status = 'processing' AND lease_token = %(token)s
RETURNING *;

-- name: flag_cancel
UPDATE jobs SET is_cancel_requested = true, version = version + 1
WHERE job_id = %(job_id)s
RETURNING *;

-- name: retry
UPDATE jobs SET
    status = 'queued',
    version = version + 1,
    run_at = %(now)s,
    attempts = 0,
    error = NULL,
    result = NULL,
    progress = NULL,
    started_at = NULL,
    completed_at = NULL,
    expires_at = NULL,
    is_cancel_requested = false,
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL,
    queued_seq = nextval('jobs_queued_seq')
WHERE job_id = %(job_id)s
RETURNING *;

-- name: next_run_at
SELECT min(first.run_at) AS run_at
FROM unnest(%(tasks)s::text[]) AS t(task)
CROSS JOIN LATERAL (
    SELECT run_at FROM jobs
    WHERE status = 'queued' AND jobs.task = t.task
    ORDER BY run_at
    LIMIT 1
) AS first;

-- name: queue_position
-- How many ready jobs of its task a claim takes before %(job_id)s (the claim's order), each
-- part counted up to %(limit)s along jobs_ready: those of a higher priority, then those of
-- the same priority that come earlier; no row when it is not queued and due.
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM jobs
        WHERE status = 'queued' AND task = me.task AND priority > me.priority
          AND run_at <= %(now)s
        LIMIT %(limit)s) AS higher)
    + (SELECT count(*) FROM (
        SELECT 1 FROM jobs
        WHERE status = 'queued' AND task = me.task AND priority = me.priority
          AND (run_at, created_at, queued_seq) < (me.run_at, me.created_at, me.queued_seq)
        LIMIT %(limit)s) AS earlier) AS ahead
FROM jobs AS me
WHERE me.job_id = %(job_id)s AND me.status = 'queued' AND me.run_at <= %(now)s;

-- name: reap
-- SKIP LOCKED lets many reapers run at once, each taking different jobs.
WITH expired AS (
    SELECT job_id, is_cancel_requested OR attempts >= max_attempts AS ends
    FROM jobs
    WHERE status = 'processing' AND lease_expires_at <= %(now)s
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET
    status = CASE
        WHEN jobs.is_cancel_requested THEN 'cancelled'
        WHEN expired.ends THEN 'failed'
        ELSE 'queued'
    END,
    version = jobs.version + 1,
    error = CASE
        WHEN jobs.is_cancel_requested THEN %(cancelled_error)s ELSE %(lost_error)s
    END,
    completed_at = CASE WHEN expired.ends THEN %(now)s ELSE jobs.completed_at END,
    expires_at = CASE
        WHEN expired.ends THEN %(now)s + make_interval(secs => jobs.ttl_seconds)
        ELSE jobs.expires_at
    END,
    run_at = CASE WHEN expired.ends THEN jobs.run_at ELSE %(now)s END,
    queued_seq = CASE
        WHEN expired.ends THEN jobs.queued_seq ELSE nextval('jobs_queued_seq')
    END,
    worker_id = NULL,
    lease_expires_at = NULL,
    lease_token = NULL
FROM expired
WHERE jobs.job_id = expired.job_id
RETURNING jobs.*;

-- name: purge
DELETE FROM jobs WHERE job_id IN (
    SELECT job_id FROM jobs
    WHERE expires_at <= %(now)s
    ORDER BY expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
);

-- name: count_hit
INSERT INTO rate_hits (key, until, hits) VALUES (%(key)s, %(until)s, 1)
ON CONFLICT (key, until) DO UPDATE SET hits = rate_hits.hits + 1
RETURNING hits;

-- name: purge_hits
DELETE FROM rate_hits WHERE until <= %(now)s;

-- name: upsert_worker
INSERT INTO workers (worker_id, host, pid, running, last_seen_at, tasks)
VALUES (%(worker_id)s, %(host)s, %(pid)s, %(running)s, %(last_seen_at)s, %(tasks)s)
ON CONFLICT (worker_id) DO UPDATE SET
    host = excluded.host,
    pid = excluded.pid,
    running = excluded.running,
    last_seen_at = excluded.last_seen_at,
    tasks = excluded.tasks;

-- name: busiest_keys
-- The concurrency keys with the most running jobs, per task.
SELECT task, concurrency_key AS key, count(*) AS n FROM jobs
WHERE status = 'processing' AND concurrency_key IS NOT NULL
GROUP BY task, concurrency_key
ORDER BY n DESC
LIMIT %(limit)s;

-- name: delete_worker
DELETE FROM workers WHERE worker_id = %(worker_id)s;
