/**
 * jobqueue.js: the client for the jobqueue HTTP API (shared/API.md), for browsers and Node >= 20.
 *
 * A dependency-free ES module. `createClient({ baseUrl, apiKey, fetch })` makes a client for a
 * server on any origin; the named exports (`submit`, `get`, `watch`, `wait`, `cancel`, `retry`,
 * `list`, `stats`) use a default client that talks to the page's own origin.
 *
 * `watch()` follows a job with Server-Sent Events, falls back to long-polling, and then to plain
 * polling that honours the server's Retry-After. Every failed request rejects with a
 * `JobQueueError` whose message is the server's `error` text.
 */

/** The statuses a job never leaves (except by an explicit operator retry). */
export const TERMINAL_STATUSES = Object.freeze(["completed", "failed", "cancelled"]);

/** True when `jobOrStatus` (a job or a status string) is terminal. */
export function isTerminal(jobOrStatus) {
  const status = typeof jobOrStatus === "string" ? jobOrStatus : jobOrStatus?.status;
  return TERMINAL_STATUSES.includes(status);
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

/**
 * Make a client.
 *
 * Options: `baseUrl` (the server's origin, e.g. "https://jobs.example.com"; default: this page's
 * origin), `prefix` (default "/api/jobs"), `apiKey` (sent as `Authorization: Bearer`; a string,
 * or a function called at each request that returns the key or null, for a page that learns the
 * key later), `fetch` and `EventSource` (implementations to use instead of the global ones),
 * `maxStreams` (how many watches may hold a connection open at once, default 4; browsers allow
 * about 6 per origin over HTTP/1.1, so the rest poll), `longPollSeconds` (default 25),
 * `pollInterval` (seconds between polls when the server sends no Retry-After, default 1),
 * `timers` ({setTimeout, clearTimeout}).
 */
export function createClient(options = {}) {
  const {
    baseUrl = "",
    prefix = "/api/jobs",
    apiKey = null,
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
  let openStreams = 0;
  // The last page `list` answered and its ETag: the same listing asked again is a conditional
  // request, and a 304 resolves with that same page object.
  let lastPage = null;

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
  async function request(method, path, { query, body, headers = {}, signal } = {}) {
    const init = { method, headers: { Accept: "application/json", ...headers }, signal };
    const key = currentKey();
    if (key) init.headers.Authorization = `Bearer ${key}`;
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

  /** The job's current representation; rejects with status 404 for an unknown id. */
  async function get(id, { signal } = {}) {
    return (await request("GET", jobPath(id), { signal })).body;
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
   * version (and with a waiting job's new `queuePosition`), until the job is terminal. Returns a function that stops following. Options:
   * `onError(error, {willRetry})` (transient failures are retried with backoff; a permanent one,
   * such as 404, ends the watch), `onReconnect()` (the server answers again after a transient
   * failure), `transport` ("auto", "sse", "longpoll" or "poll"), `since`
   * (only versions above it are delivered), `signal` (an AbortSignal that stops the watch).
   */
  function watch(id, onUpdate, watchOptions = {}) {
    const { onError, onReconnect, transport = "auto", signal } = watchOptions;
    let version = watchOptions.since ?? 0;
    let position; // the delivered version's queuePosition (undefined before the first)
    // A watch only ever steps down: SSE, then long-poll, then polling.
    let allowSse =
      (transport === "auto" || transport === "sse") && !!EventSourceImpl && !currentKey();
    let allowLongPoll = transport === "auto" || transport === "longpoll";
    let stopped = false;
    let holdsStream = false;
    let eventSource = null;
    let controller = null;
    let timer = null;
    let failures = 0;
    let troubled = false;
    let etag = null;

    function stop() {
      if (stopped) return;
      stopped = true;
      eventSource?.close();
      eventSource = null;
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
      // A waiting job that moved in the queue keeps its version: its new position is news.
      const moved =
        job.version === version && position !== undefined && job.queuePosition !== position;
      if (!(job.version > version) && !moved) return;
      version = job.version;
      position = job.queuePosition ?? null;
      if (isTerminal(job)) stop();
      try {
        onUpdate(job);
      } catch (error) {
        // A bug in the callback must be loud but must not kill the watch that called it.
        globalThis.queueMicrotask(() => {
          throw error;
        });
      }
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
      if (allowSse && takeStream()) return sse();
      if (allowLongPoll && takeStream()) return longPoll();
      releaseStream();
      return poll();
    }

    function sse() {
      let received = false;
      let errorsSinceEvent = 0;
      const source = new EventSourceImpl(url(`${jobPath(id)}/events`));
      eventSource = source;
      source.addEventListener("job", (event) => {
        received = true;
        errorsSinceEvent = 0;
        answered();
        let job;
        try {
          job = JSON.parse(event.data);
        } catch {
          return;
        }
        deliver(job);
      });
      source.addEventListener("error", () => {
        if (stopped || eventSource !== source) return;
        errorsSinceEvent += 1;
        // The browser reconnects by itself after a dropped stream; give it one chance, but a
        // stream that never worked (refused, 404, 503, a proxy without SSE) is given up at once.
        if (source.readyState === EVENT_SOURCE_CLOSED || !received || errorsSinceEvent > 1) {
          source.close();
          eventSource = null;
          allowSse = false;
          run();
        }
      });
    }

    async function longPoll() {
      while (!stopped) {
        controller = new AbortController();
        const startedAt = Date.now();
        const before = version;
        try {
          const query = { wait: longPollSeconds, since: version };
          const answer = await request("GET", jobPath(id), { query, signal: controller.signal });
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
      if ((allowSse || allowLongPoll) && failures === 0 && etag !== null && takeStream()) {
        return run();
      }
      controller = new AbortController();
      let delay;
      try {
        const headers = etag ? { "If-None-Match": etag } : {};
        const answer = await request("GET", jobPath(id), { headers, signal: controller.signal });
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
   * Resolve with the job once it is terminal (completed, failed or cancelled). Transient errors
   * are retried; a permanent one (such as 404) rejects. Options: `onUpdate`, `signal`,
   * `transport`.
   */
  function wait(id, { onUpdate, signal, transport } = {}) {
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

  return Object.freeze({ submit, get, watch, wait, cancel, retry, list, stats, url });
}

/** The client for the page's own origin, used by the named exports below. */
const defaultClient = createClient();

export default defaultClient;
export const submit = defaultClient.submit;
export const get = defaultClient.get;
export const watch = defaultClient.watch;
export const wait = defaultClient.wait;
export const cancel = defaultClient.cancel;
export const retry = defaultClient.retry;
export const list = defaultClient.list;
export const stats = defaultClient.stats;
