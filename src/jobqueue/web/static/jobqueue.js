/**
 * jobqueue.js: the client for the jobqueue HTTP API (shared/API.md), for browsers and Node >= 20.
 *
 * A dependency-free ES module. `createClient({ baseUrl, apiKey, fetch })` makes a client for a
 * server on any origin; the named exports (`submit`, `get`, `watch`, `watchTag`, `wait`, `cancel`,
 * `retry`, `list`, `stats`) use a default client that talks to the page's own origin.
 *
 * `watch()` follows a job with Server-Sent Events (every watch of a client shares one stream of
 * many jobs), falls back to long-polling, and then to plain polling that honours the server's
 * Retry-After. `watchTag()` follows every job carrying a tag. Every failed request rejects with a
 * `JobQueueError` whose message is the server's `error` text.
 */

/** The statuses a job never leaves (except by an explicit operator retry). */
export const TERMINAL_STATUSES = Object.freeze(["completed", "failed", "cancelled"]);

/** True when `jobOrStatus` (a job or a status string) is terminal. */
export function isTerminal(jobOrStatus) {
  const status = typeof jobOrStatus === "string" ? jobOrStatus : jobOrStatus?.status;
  return TERMINAL_STATUSES.includes(status);
}

/** Where a waiting job stands: its position and expected start, compared between events. */
function placementOf(job) {
  return `${job.queuePosition ?? null} ${job.estimatedStartAt ?? null}`;
}

/**
 * A failed request. `message` is the server's `error` text when it sent one; `status` is the HTTP
 * status (0 when the server could not be reached); `body` is the parsed response body;
 * `retryAfter` is the server's Retry-After in seconds, or null.
 */
export class JobQueueError extends Error {
  constructor(message, { status = 0, body = null, retryAfter = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "JobQueueError";
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }

  /** The job carried by the error body (a 409 from cancel carries the terminal job), or null. */
  get job() {
    return this.body !== null && typeof this.body === "object" ? (this.body.job ?? null) : null;
  }

  /** True when trying again later can succeed: unreachable server, 408, 429 or any 5xx. */
  get isTransient() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const SUBMIT_FIELDS = [
  "priority",
  "delaySeconds",
  "timeoutSeconds",
  "maxAttempts",
  "ttlSeconds",
  "concurrencyKey",
  "tags",
  "webhook",
];
const EVENT_SOURCE_CLOSED = 2;
const MAX_BACKOFF_SECONDS = 30;
/** The most job ids one stream of many jobs may list (API.md). */
const MAX_STREAM_IDS = 100;
/** Jobs per poll of a tag whose stream does not work: the newest ones. */
const TAG_POLL_LIMIT = 100;

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
function parseRetryAfter(value) {
  if (value === null || value === undefined || value === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

function isAbort(error) {
  return error !== null && typeof error === "object" && error.name === "AbortError";
}

function abortError(signal) {
  return signal?.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/** Call a watcher's callback: a bug in it must be loud but must not kill the watch. */
function callBack(callback, job) {
  try {
    callback(job);
  } catch (error) {
    globalThis.queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * Listen to `source` (an EventSource of job events): `onJob(job)` for each event, and
 * `onGiveUp()` once the stream is not worth keeping. The browser reconnects by itself after a
 * dropped stream; it is given one chance, but a stream that never worked (refused, 404, 503, 204,
 * a proxy without SSE) is given up at once.
 */
function listenTo(source, onJob, onGiveUp) {
  let received = false;
  let errorsSinceEvent = 0;
  source.addEventListener("job", (event) => {
    received = true;
    errorsSinceEvent = 0;
    let job;
    try {
      job = JSON.parse(event.data);
    } catch {
      return;
    }
    if (job !== null && typeof job === "object") onJob(job);
  });
  source.addEventListener("error", () => {
    errorsSinceEvent += 1;
    if (source.readyState === EVENT_SOURCE_CLOSED || !received || errorsSinceEvent > 1) {
      source.close();
      onGiveUp();
    }
  });
}

/**
 * Make a client.
 *
 * Options: `baseUrl` (the server's origin, e.g. "https://jobs.example.com"; default: this page's
 * origin), `prefix` (default "/api/jobs"), `apiKey` (sent as `Authorization: Bearer`; a string,
 * or a function called at each request that returns the key or null, for a page that learns the
 * key later), `token` (a read token, or a function returning one: sent as the bearer on requests
 * and as `?token=` on event streams, so a page without a key still gets Server-Sent Events),
 * `fetch` and `EventSource` (implementations to use instead of the global ones),
 * `maxStreams` (how many watches may hold a long-poll open at once when Server-Sent Events do not
 * work, default 4; browsers allow about 6 connections per origin over HTTP/1.1, so the rest poll;
 * watches over SSE all share one stream), `longPollSeconds` (default 25),
 * `pollInterval` (seconds between polls when the server sends no Retry-After, default 1),
 * `timers` ({setTimeout, clearTimeout}).
 */
export function createClient(options = {}) {
  const {
    baseUrl = "",
    prefix = "/api/jobs",
    apiKey = null,
    token = null,
    maxStreams = 4,
    longPollSeconds = 25,
    pollInterval = 1,
  } = options;
  const fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const EventSourceImpl = options.EventSource ?? globalThis.EventSource ?? null;
  const timers = options.timers ?? {
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (id) => globalThis.clearTimeout(id),
  };
  const root = String(baseUrl).replace(/\/+$/, "") + prefix;
  const currentKey = typeof apiKey === "function" ? apiKey : () => apiKey;
  const currentToken = typeof token === "function" ? token : () => token;
  let openStreams = 0;
  // The last page `list` answered and its ETag: the same listing asked again is a conditional
  // request, and a 304 resolves with that same page object.
  let lastPage = null;

  /** The URL of an EventSource: the one place where what a stream needs is added to its query
   * (a read token goes as `?token=`: an EventSource cannot send a header). */
  function streamUrl(path, query, token) {
    return url(path, token ? { ...query, token } : query);
  }

  // Every watch over SSE with the same read token (or none) shares one stream of many jobs; it
  // is opened again for the new set of ids when a job joins that it does not carry. Jobs that
  // leave stay in it until then.
  const shares = new Map(); // token (or "") -> the stream those watches share

  function shareFor(token) {
    const name = token ?? "";
    if (!shares.has(name))
      shares.set(
        name,
        makeShare(token, () => shares.delete(name)),
      );
    return shares.get(name);
  }

  function makeShare(token, onEmpty) {
    const members = new Map(); // job id -> Set of {deliver, fallBack}
    let shared = null; // {source, ids}
    let reopening = false;

    function closeShared() {
      shared?.source.close();
      shared = null;
    }

    function reopen() {
      reopening = false;
      closeShared();
      if (members.size === 0) return;
      const ids = new Set(members.keys());
      const query = { ids: [...ids].join(",") };
      const source = new EventSourceImpl(streamUrl("/events", query, token));
      const current = { source, ids };
      shared = current;
      listenTo(
        source,
        (job) => {
          for (const member of [...(members.get(job.jobId) ?? [])]) member.deliver(job);
        },
        () => {
          if (shared !== current) return;
          shared = null;
          // Every watch it carried steps down, as a watch of its own stream would.
          for (const id of ids)
            for (const member of [...(members.get(id) ?? [])]) member.fallBack();
        },
      );
    }

    return {
      canShare: (id) => members.has(id) || members.size < MAX_STREAM_IDS,
      join(id, member) {
        if (!members.has(id)) members.set(id, new Set());
        members.get(id).add(member);
        if (!shared?.ids.has(id) && !reopening) {
          reopening = true;
          globalThis.queueMicrotask(reopen); // the watches a page starts together share one opening
        }
      },
      leave(id, member) {
        members.get(id)?.delete(member);
        if (members.get(id)?.size === 0) members.delete(id);
        if (members.size === 0) {
          closeShared();
          onEmpty();
        }
      },
    };
  }

  function url(path, query) {
    let href = root + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        for (const item of Array.isArray(value) ? value : [value]) {
          if (item !== undefined && item !== null && item !== "") params.append(key, String(item));
        }
      }
      const text = params.toString();
      if (text) href += `?${text}`;
    }
    return href;
  }

  /** One HTTP exchange; resolves {status, headers, body} or rejects with a JobQueueError. */
  async function request(method, path, { query, body, headers = {}, signal, token } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers }, signal };
    const bearer = currentKey() ?? token ?? currentToken();
    if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method === "GET") init.cache = "no-store";
    const href = url(path, query);
    let response;
    try {
      response = await fetchImpl(href, init);
    } catch (error) {
      if (isAbort(error) || signal?.aborted) throw signal?.aborted ? abortError(signal) : error;
      throw new JobQueueError(`Cannot reach the job server (${error?.message ?? error})`, {
        cause: error,
      });
    }
    const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
    let data;
    try {
      data = await readBody(response);
    } catch (error) {
      if (signal?.aborted) throw abortError(signal);
      throw new JobQueueError(`The answer was cut off (${error?.message ?? error})`, {
        cause: error,
      });
    }
    if (response.ok || response.status === 304) {
      return { status: response.status, headers: response.headers, body: data, retryAfter };
    }
    throw new JobQueueError(errorText(data, response), {
      status: response.status,
      body: data,
      retryAfter,
    });
  }

  async function readBody(response) {
    if (response.status === 204 || response.status === 304) return null;
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  function errorText(data, response) {
    if (data !== null && typeof data === "object") {
      const text = data.error ?? data.detail ?? data.title;
      if (typeof text === "string" && text) return text;
    }
    if (typeof data === "string" && data.trim() && data.length < 300) return data.trim();
    return `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  }

  const jobPath = (id) => `/${encodeURIComponent(id)}`;

  /**
   * Submit a job. `task` may be null for the server's default task. Options: `priority`,
   * `delaySeconds`, `timeoutSeconds`, `maxAttempts`, `ttlSeconds`, `concurrencyKey`, `tags`,
   * `webhook` (`{url, events}`), `idempotencyKey`, `wait`
   * (seconds the server may hold the answer for a short job, sent as `Prefer: wait=N`), `signal`.
   * Resolves with the job representation.
   */
  async function submit(task, payload, submitOptions = {}) {
    const body = { payload };
    if (task !== null && task !== undefined) body.task = task;
    for (const field of SUBMIT_FIELDS) {
      if (submitOptions[field] !== undefined) body[field] = submitOptions[field];
    }
    const headers = {};
    if (submitOptions.idempotencyKey) headers["Idempotency-Key"] = submitOptions.idempotencyKey;
    if (submitOptions.wait) headers.Prefer = `wait=${Math.round(submitOptions.wait)}`;
    const answer = await request("POST", "", { body, headers, signal: submitOptions.signal });
    return answer.body;
  }

  /** The job's current representation; rejects with status 404 for an unknown id. Options:
   * `signal`, `token` (a read token for this call). */
  async function get(id, { signal, token: readToken } = {}) {
    return (await request("GET", jobPath(id), { signal, token: readToken })).body;
  }

  /** Ask to cancel; resolves with the job. A terminal job rejects with status 409 (see `.job`). */
  async function cancel(id, { signal } = {}) {
    return (await request("POST", `${jobPath(id)}/cancel`, { signal })).body;
  }

  /** Put a failed or cancelled job back in the queue; resolves with the queued job. */
  async function retry(id, { signal } = {}) {
    return (await request("POST", `${jobPath(id)}/retry`, { signal })).body;
  }

  /**
   * One page of jobs, newest first: {jobs, nextCursor}. `status` and `task` may be arrays,
   * `tag` is one tag;
   * `fields: "summary"` leaves each job's `result` and `progress.message` out. Asking for the
   * same listing as the call before sends its ETag, and while nothing changed the server answers
   * 304 and this resolves with the previous page object itself (`page === previous`).
   */
  async function list({ status, task, tag, limit, cursor, fields, signal } = {}) {
    const query = { status, task, tag, limit, cursor, fields };
    const href = url("", query);
    const known = lastPage?.href === href ? lastPage : null;
    const headers = known ? { "If-None-Match": known.etag } : {};
    const answer = await request("GET", "", { query, headers, signal });
    if (answer.status === 304 && known) return known.page;
    const etag = answer.headers.get("ETag");
    lastPage = etag ? { href, etag, page: answer.body } : null;
    return answer.body;
  }

  /** Counts per task and status, totals, and the known workers. */
  async function stats({ signal } = {}) {
    return (await request("GET", "/stats", { signal })).body;
  }

  /**
   * Follow a job: `onUpdate(job)` is called with the current state and then with every newer
   * version (and with a waiting job's new `queuePosition` or `estimatedStartAt`), until the job is terminal. Returns a function that stops following. Options:
   * `onError(error, {willRetry})` (transient failures are retried with backoff; a permanent one,
   * such as 404, ends the watch), `onReconnect()` (the server answers again after a transient
   * failure), `transport` ("auto", "sse", "longpoll" or "poll"), `since`
   * (only versions above it are delivered), `signal` (an AbortSignal that stops the watch),
   * `token` (a read token for this job, such as the submit answer's `readToken`; default: the
   * client's). With a token the watch uses Server-Sent Events (`?token=`); watches with the same
   * token share one stream.
   */
  function watch(id, onUpdate, watchOptions = {}) {
    const { onError, onReconnect, transport = "auto", signal } = watchOptions;
    const readToken = watchOptions.token ?? currentToken();
    const share = shareFor(readToken);
    const call = (path, init) => request("GET", path, { ...init, token: readToken });
    let version = watchOptions.since ?? 0;
    let placement; // the delivered version's placementOf (undefined before the first)
    // A watch only ever steps down: SSE, then long-poll, then polling.
    let allowSse =
      (transport === "auto" || transport === "sse") &&
      !!EventSourceImpl &&
      (!currentKey() || !!readToken);
    let allowLongPoll = transport === "auto" || transport === "longpoll";
    let stopped = false;
    let holdsStream = false;
    let member = null; // while the watch shares the client's stream of many jobs
    let controller = null;
    let timer = null;
    let failures = 0;
    let troubled = false;
    let etag = null;

    function stop() {
      if (stopped) return;
      stopped = true;
      if (member !== null) share.leave(id, member);
      member = null;
      controller?.abort();
      if (timer !== null) timers.clearTimeout(timer);
      releaseStream();
      signal?.removeEventListener("abort", stop);
    }

    function takeStream() {
      if (holdsStream) return true;
      if (openStreams >= maxStreams) return false;
      openStreams += 1;
      holdsStream = true;
      return true;
    }

    function releaseStream() {
      if (!holdsStream) return;
      holdsStream = false;
      openStreams -= 1;
    }

    function deliver(job) {
      if (stopped || job === null || typeof job !== "object") return;
      // A waiting job that moved in the queue keeps its version: where it stands is news.
      const where = placementOf(job);
      const moved = job.version === version && placement !== undefined && where !== placement;
      if (!(job.version > version) && !moved) return;
      version = job.version;
      placement = where;
      if (isTerminal(job)) stop();
      callBack(onUpdate, job);
    }

    function report(error, willRetry) {
      if (!willRetry) stop();
      troubled = willRetry;
      if (onError) onError(error, { willRetry });
    }

    function answered() {
      failures = 0;
      if (!troubled) return;
      troubled = false;
      if (onReconnect) onReconnect();
    }

    function sleep(seconds) {
      return new Promise((resolve) => {
        timer = timers.setTimeout(
          () => {
            timer = null;
            resolve();
          },
          Math.round(seconds * 1000),
        );
      });
    }

    function backoffSeconds(error) {
      const base = Math.min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** Math.min(failures, 8));
      const jittered = base * (0.75 + Math.random() * 0.5);
      return Math.max(jittered, error?.retryAfter ?? 0);
    }

    function run() {
      if (stopped) return;
      if (allowSse && share.canShare(id)) {
        releaseStream();
        return sse();
      }
      if (allowLongPoll && takeStream()) return longPoll();
      releaseStream();
      return poll();
    }

    function sse() {
      const mine = {
        deliver: (job) => {
          answered();
          deliver(job);
        },
        fallBack: () => {
          if (member !== mine) return;
          share.leave(id, mine);
          member = null;
          allowSse = false;
          run();
        },
      };
      member = mine;
      share.join(id, mine);
      check();
    }

    /** One read beside the shared stream: it delivers the state now, and answers 404 for a job
     * that does not exist or is not the caller's, which a stream of many jobs leaves out. */
    async function check() {
      controller = new AbortController();
      try {
        const answer = await call(jobPath(id), { signal: controller.signal });
        answered();
        deliver(answer.body);
      } catch (error) {
        if (stopped) return;
        if (!(error instanceof JobQueueError)) throw error;
        if (!error.isTransient) report(error, false);
      }
    }

    async function longPoll() {
      while (!stopped) {
        controller = new AbortController();
        const startedAt = Date.now();
        const before = version;
        try {
          const query = { wait: longPollSeconds, since: version };
          const answer = await call(jobPath(id), { query, signal: controller.signal });
          answered();
          deliver(answer.body);
          // A server without long-poll answers at once with nothing new: stop hammering it.
          if (version !== before || Date.now() - startedAt >= 1000) continue;
        } catch (error) {
          if (stopped) return;
          if (!(error instanceof JobQueueError)) throw error;
          if ([401, 403, 404].includes(error.status)) return report(error, false);
          failures += 1;
          // A held request cut by something in between, or a client error (the server does not
          // understand the wait), means long-poll does not work here; polling still may.
          const cut = Date.now() - startedAt > 5000;
          if (error.isTransient && !cut) {
            report(error, true);
            await sleep(backoffSeconds(error));
            continue;
          }
        }
        allowLongPoll = false;
        return run();
      }
    }

    async function poll() {
      // A watch that polls for want of a free connection moves up when one is free again.
      const ready = failures === 0 && etag !== null;
      if (ready && ((allowSse && share.canShare(id)) || (allowLongPoll && takeStream()))) {
        return run();
      }
      controller = new AbortController();
      let delay;
      try {
        const headers = etag ? { "If-None-Match": etag } : {};
        const answer = await call(jobPath(id), { headers, signal: controller.signal });
        answered();
        if (answer.status !== 304) {
          etag = answer.headers.get("ETag") ?? "";
          deliver(answer.body);
        }
        delay = answer.retryAfter ?? pollInterval;
      } catch (error) {
        if (stopped) return;
        if (!(error instanceof JobQueueError)) throw error;
        if (!error.isTransient) return report(error, false);
        failures += 1;
        report(error, true);
        delay = backoffSeconds(error);
      }
      if (stopped) return;
      await sleep(delay);
      if (!stopped) poll();
    }

    if (signal?.aborted) return () => {};
    signal?.addEventListener("abort", stop);
    run();
    return stop;
  }

  /**
   * Follow every job carrying `tag`: `onUpdate(job)` is called with each one's current state, then
   * with every newer version of any of them, including jobs submitted (or retried) later with the
   * tag. It never ends by itself: returns a function that stops following. Over one Server-Sent
   * Events stream (`GET {prefix}/events?tag=`); where that does not work (no EventSource, an API
   * key, a refused stream), the newest jobs of the tag are polled instead (the listing: an admin's
   * call when API keys are configured). Options: `onError(error, {willRetry})`, `signal`,
   * `token` (a tag token, from `POST {prefix}/tokens`; default: the client's).
   */
  function watchTag(tag, onUpdate, { onError, signal, token: tagToken } = {}) {
    const readToken = tagToken ?? currentToken();
    const known = new Map(); // job id -> [version, queuePosition] delivered
    let stopped = false;
    let source = null;
    let controller = null;
    let timer = null;
    let failures = 0;
    let etag = null;

    function stop() {
      stopped = true;
      source?.close();
      controller?.abort();
      if (timer !== null) timers.clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
    }

    function deliver(job) {
      const [version, position] = known.get(job.jobId) ?? [0, null];
      const moved = job.version === version && (job.queuePosition ?? null) !== position;
      if (stopped || !(job.version > version || moved)) return;
      known.set(job.jobId, [job.version, job.queuePosition ?? null]);
      callBack(onUpdate, job);
    }

    async function poll() {
      controller = new AbortController();
      let delay = pollInterval;
      try {
        const query = { tag, limit: TAG_POLL_LIMIT };
        const headers = etag ? { "If-None-Match": etag } : {};
        const init = { query, headers, signal: controller.signal, token: readToken };
        const answer = await request("GET", "", init);
        failures = 0;
        if (answer.status !== 304) {
          etag = answer.headers.get("ETag");
          for (const job of [...answer.body.jobs].reverse()) deliver(job);
        }
      } catch (error) {
        if (stopped) return;
        if (!(error instanceof JobQueueError)) throw error;
        const willRetry = error.isTransient;
        if (!willRetry) stop();
        onError?.(error, { willRetry });
        if (!willRetry) return;
        failures += 1;
        delay = Math.max(Math.min(MAX_BACKOFF_SECONDS, 2 ** failures), error.retryAfter ?? 0);
      }
      if (stopped) return;
      timer = timers.setTimeout(poll, Math.round(delay * 1000));
    }

    if (signal?.aborted) return () => {};
    signal?.addEventListener("abort", stop);
    if (EventSourceImpl && (!currentKey() || readToken)) {
      source = new EventSourceImpl(streamUrl("/events", { tag }, readToken));
      listenTo(source, deliver, () => {
        source = null;
        if (!stopped) poll();
      });
    } else {
      poll();
    }
    return stop;
  }

  /**
   * Resolve with the job once it is terminal (completed, failed or cancelled). Transient errors
   * are retried; a permanent one (such as 404) rejects. Options: `onUpdate`, `signal`,
   * `transport`.
   */
  function wait(id, { onUpdate, signal, transport, token: readToken } = {}) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const onAbort = () => {
        unsubscribe();
        reject(abortError(signal));
      };
      const unsubscribe = watch(
        id,
        (job) => {
          onUpdate?.(job);
          if (isTerminal(job)) {
            signal?.removeEventListener("abort", onAbort);
            resolve(job);
          }
        },
        {
          transport,
          token: readToken,
          onError: (error, { willRetry }) => {
            if (willRetry) return;
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          },
        },
      );
      signal?.addEventListener("abort", onAbort);
    });
  }

  return Object.freeze({ submit, get, watch, watchTag, wait, cancel, retry, list, stats, url });
}

/** The client for the page's own origin, used by the named exports below. */
const defaultClient = createClient();

export default defaultClient;
export const submit = defaultClient.submit;
export const get = defaultClient.get;
export const watch = defaultClient.watch;
export const watchTag = defaultClient.watchTag;
export const wait = defaultClient.wait;
export const cancel = defaultClient.cancel;
export const retry = defaultClient.retry;
export const list = defaultClient.list;
export const stats = defaultClient.stats;
