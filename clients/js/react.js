/**
 * react.js: React hooks over jobqueue.js: `useJob` starts a job and follows it; `useJobs` follows
 * several jobs and `useTaggedJobs` every job carrying a tag, all over one shared stream.
 *
 * The hook follows the job with the client's `watch()` (Server-Sent Events, then long-poll, then
 * polling at the server's Retry-After pace), so a page re-renders when something changed rather
 * than on a fixed timer. Following stops at the terminal state and when the component unmounts.
 */

import { useCallback, useEffect, useRef, useState } from "react";

import defaultClient, { isTerminal } from "./jobqueue.js";

const IDLE = Object.freeze({
  jobId: null,
  job: null,
  submitting: false,
  requestError: null,
  connectionError: null,
});

function newer(current, incoming) {
  return current === null || current.jobId !== incoming.jobId || incoming.version > current.version;
}

/**
 * Start and follow one job at a time.
 *
 * Options: `client` (from `createClient`, default: the page's origin), `task` (the task `start`
 * submits to; default: the server's default task), `jobId` (follow an existing job instead),
 * `submitOptions` (passed to `submit`), `transport` and `token` (passed to `watch`: a read
 * token for `jobId`, such as the submit answer's `readToken` handed over by your server).
 *
 * Returns `{ job, jobId, status, progress, percent, result, error, requestError,
 * connectionError, isActive, start, cancel, retry, reset }`. The actions resolve with the job, or
 * with null when the request failed (the failure is then in `requestError`), so an event handler
 * can call them without catching. `status` is "idle", "submitting",
 * one of the job statuses, or "error" when a request failed before there was a job to show.
 * `error` is a readable sentence: why the job failed or was cancelled, or why a request failed.
 */
export function useJob(options = {}) {
  const { client = defaultClient, task = null, submitOptions, transport, token } = options;
  const [state, setState] = useState(() =>
    options.jobId ? { ...IDLE, jobId: options.jobId } : IDLE,
  );
  // Answers to a start() that was superseded (or to an unmounted component) are dropped.
  const generation = useRef(0);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    if (options.jobId && options.jobId !== state.jobId) {
      generation.current += 1;
      setState({ ...IDLE, jobId: options.jobId });
    }
    // Only a change of the jobId option re-targets the hook, not the state it leads to.
  }, [options.jobId]);

  const { jobId } = state;
  // Flips to false at the terminal state, which ends the watch, and back after a retry.
  const following = state.job === null || !isTerminal(state.job);
  useEffect(() => {
    if (!jobId || !following) return undefined;
    const unsubscribe = client.watch(
      jobId,
      (job) =>
        setState((current) =>
          current.jobId === job.jobId && newer(current.job, job)
            ? { ...current, job, connectionError: null }
            : current,
        ),
      {
        transport,
        token,
        onReconnect: () =>
          setState((current) =>
            current.jobId === jobId ? { ...current, connectionError: null } : current,
          ),
        onError: (error, { willRetry }) =>
          setState((current) =>
            current.jobId !== jobId
              ? current
              : willRetry
                ? { ...current, connectionError: error }
                : { ...current, requestError: error, connectionError: null },
          ),
      },
    );
    return unsubscribe;
  }, [client, jobId, following, transport, token]);

  const start = useCallback(
    async (payload, overrides) => {
      const mine = ++generation.current;
      setState({ ...IDLE, submitting: true });
      try {
        const job = await client.submit(task, payload, { ...submitOptions, ...overrides });
        if (mounted.current && mine === generation.current) {
          setState({ ...IDLE, jobId: job.jobId, job });
        }
        return job;
      } catch (error) {
        if (mounted.current && mine === generation.current) {
          setState({ ...IDLE, requestError: error });
        }
        return null;
      }
    },
    [client, task, submitOptions],
  );

  const act = useCallback(
    async (action) => {
      if (!jobId) return null;
      try {
        const job = await action(jobId);
        if (mounted.current) {
          setState((current) =>
            current.jobId !== job.jobId
              ? current
              : {
                  ...current,
                  job: newer(current.job, job) ? job : current.job,
                  requestError: null,
                },
          );
        }
        return job;
      } catch (error) {
        if (mounted.current) {
          setState((current) =>
            current.jobId === jobId ? { ...current, requestError: error } : current,
          );
        }
        return null;
      }
    },
    [jobId],
  );

  const cancel = useCallback(() => act(client.cancel), [act, client]);
  const retry = useCallback(() => act(client.retry), [act, client]);
  const reset = useCallback(() => {
    generation.current += 1;
    setState(IDLE);
  }, []);

  const { job, submitting, requestError, connectionError } = state;
  let status = "idle";
  if (submitting) status = "submitting";
  else if (job) status = job.status;
  else if (requestError) status = "error";
  else if (jobId) status = "queued";

  const progress = job?.progress ?? null;
  const percent =
    job?.status === "completed"
      ? 100
      : progress && progress.total
        ? Math.max(0, Math.min(100, (100 * progress.current) / progress.total))
        : null;
  let error = requestError?.message ?? null;
  if (error === null && (job?.status === "failed" || job?.status === "cancelled")) {
    error = job.error ?? (job.status === "cancelled" ? "Cancelled" : "Failed");
  }

  return {
    job,
    jobId,
    status,
    progress,
    percent,
    result: job?.status === "completed" ? job.result : null,
    error,
    requestError,
    connectionError,
    isActive: submitting || (jobId !== null && !isTerminal(status)),
    start,
    cancel,
    retry,
    reset,
  };
}

/** `map` with `value` at `id` (the same object when nothing changes). */
function withEntry(map, id, value) {
  return map[id] === value ? map : { ...map, [id]: value };
}

/**
 * Follow several jobs at once; every watch of a client shares one event stream.
 *
 * `ids` is an array of job ids (its order is kept; a change re-targets the hook). Options:
 * `client`, `transport` and `token` (passed to `watch`; a tag token covers them all). Returns `{ jobs, byId, errors, isActive }`: `jobs`
 * the known jobs in the order of `ids`, `byId` the same by id, `errors` by id the failure that
 * ended a watch (such as a 404), `isActive` whether any listed job may still change.
 */
export function useJobs(ids, options = {}) {
  const { client = defaultClient, transport, token } = options;
  const listed = [...new Set(ids ?? [])];
  const key = listed.join(",");
  const [byId, setById] = useState({});
  const [errors, setErrors] = useState({});

  useEffect(() => {
    if (!key) return undefined;
    const stops = key.split(",").map((id) =>
      client.watch(
        id,
        (job) =>
          setById((current) =>
            newer(current[id] ?? null, job) ? withEntry(current, id, job) : current,
          ),
        {
          transport,
          token,
          onError: (error, { willRetry }) => {
            if (!willRetry) setErrors((current) => withEntry(current, id, error));
          },
        },
      ),
    );
    return () => stops.forEach((stop) => stop());
  }, [client, key, transport, token]);

  const jobs = listed.map((id) => byId[id]).filter(Boolean);
  const shown = Object.fromEntries(jobs.map((job) => [job.jobId, job]));
  const failed = Object.fromEntries(
    listed.filter((id) => errors[id]).map((id) => [id, errors[id]]),
  );
  const isActive = listed.some((id) => !failed[id] && !(shown[id] && isTerminal(shown[id])));
  return { jobs, byId: shown, errors: failed, isActive };
}

/**
 * Follow every job carrying `tag`, including jobs submitted later with it (`client.watchTag`).
 *
 * Options: `client`, `token` (a tag token, passed to `watchTag`). Returns `{ jobs, error }`: `jobs` in the order they became known (the
 * latest state of each), `error` the failure that ended the watch, or null.
 */
export function useTaggedJobs(tag, options = {}) {
  const { client = defaultClient, token } = options;
  const [state, setState] = useState({ tag, byId: {}, error: null });

  useEffect(() => {
    if (!tag) return undefined;
    setState((current) => (current.tag === tag ? current : { tag, byId: {}, error: null }));
    return client.watchTag(
      tag,
      (job) =>
        setState((current) =>
          current.tag !== tag || !newer(current.byId[job.jobId] ?? null, job)
            ? current
            : { ...current, byId: withEntry(current.byId, job.jobId, job) },
        ),
      {
        token,
        onError: (error, { willRetry }) => {
          if (!willRetry)
            setState((current) => (current.tag === tag ? { ...current, error } : current));
        },
      },
    );
  }, [client, tag, token]);

  const known = state.tag === tag ? state : { byId: {}, error: null };
  return { jobs: Object.values(known.byId), error: known.error };
}
