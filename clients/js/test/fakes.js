// An in-memory stand-in for the jobqueue server (API.md), reached through a fake `fetch` and a
// fake `EventSource`, so the client's protocol handling can be tested without a network.

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function problem(status, error, extra = {}) {
  return json(status, { error, status, title: error, detail: error, ...extra });
}

/** A job as a listing with `fields=summary` has it: no result, no progress message. */
function summaryOf(job) {
  const { result: _result, progress, ...rest } = job;
  return { ...rest, progress: progress && { current: progress.current, total: progress.total } };
}

function abortable(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new DOMException("aborted", "AbortError"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject);
  });
}

/**
 * The fake server. Behaviour switches: `sse` ("ok", "refuse" = answered 503, "unreachable" =
 * network error), `longPoll` (false = the `wait` parameter is ignored), `down` (every request
 * fails as unreachable), `retryAfter` (the header on status answers).
 */
export class FakeServer {
  constructor() {
    this.jobs = new Map();
    this.listeners = new Set();
    this.requests = [];
    this.sources = [];
    this.sse = "ok";
    this.longPoll = true;
    this.down = false;
    this.retryAfter = "1";
    this.nextId = 1;
    this.fetch = this.fetch.bind(this);
    const server = this;
    this.EventSource = class extends FakeEventSource {
      constructor(url) {
        super(url, server);
      }
    };
  }

  /** Add a job directly (as if another client had submitted it). */
  add(fields = {}) {
    const jobId = fields.jobId ?? `job-${this.nextId++}`;
    const job = {
      jobId,
      task: "generate_image",
      status: "queued",
      progress: null,
      result: null,
      error: null,
      attempts: 0,
      maxAttempts: 3,
      createdAt: new Date().toISOString(),
      startedAt: null,
      completedAt: null,
      expiresAt: null,
      runAt: null,
      queuePosition: null,
      estimatedStartAt: null,
      version: 1,
      ...fields,
    };
    this.jobs.set(jobId, job);
    return job;
  }

  /** Change a job as a worker would: bump its version and notify every waiter and stream. */
  update(jobId, changes) {
    const job = { ...this.jobs.get(jobId), ...changes };
    job.version = this.jobs.get(jobId).version + 1;
    this.jobs.set(jobId, job);
    for (const listener of [...this.listeners]) listener(job);
    return job;
  }

  /** Move a waiting job in the queue: a new queuePosition (and estimatedStartAt) at the same
   * version, pushed to the streams (as the server's periodic position refresh does);
   * long-polls keep waiting. */
  move(jobId, queuePosition, estimatedStartAt = null) {
    const job = { ...this.jobs.get(jobId), queuePosition, estimatedStartAt };
    this.jobs.set(jobId, job);
    for (const listener of [...this.listeners]) listener(job);
    return job;
  }

  /** Delete a job (as its TTL would); a long-poll waiting on it then answers 404. */
  remove(jobId) {
    this.jobs.delete(jobId);
    for (const listener of [...this.listeners]) listener({ jobId, version: Infinity, gone: true });
  }

  changed(jobId, since) {
    return new Promise((resolve) => {
      const listener = (job) => {
        if (job.jobId !== jobId || job.version <= since) return;
        this.listeners.delete(listener);
        resolve(job);
      };
      this.listeners.add(listener);
    });
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async fetch(href, init = {}) {
    const url = new URL(href, "http://fake.test");
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers ?? {});
    this.requests.push({ method, url, headers, body: init.body });
    if (this.down) throw new TypeError("fetch failed");
    const parts = url.pathname
      .replace(/^.*\/api\/jobs/, "")
      .split("/")
      .filter(Boolean);
    if (method === "POST" && (parts.length === 0 || parts[0] === "submit")) {
      return this.submit(JSON.parse(init.body ?? "null"));
    }
    if (method === "GET" && parts.length === 0) return this.list(url.searchParams, headers);
    if (method === "GET" && parts[0] === "stats") return this.stats();
    const job = this.jobs.get(decodeURIComponent(parts[0]));
    if (!job) return problem(404, "Job not found");
    if (method === "POST" && parts[1] === "cancel") return this.cancel(job);
    if (method === "POST" && parts[1] === "retry") return this.retry(job);
    if (method === "GET" && parts.length === 1) return this.status(job, url, headers, init.signal);
    return problem(405, "Method not allowed");
  }

  submit(body) {
    if (body?.payload === undefined || body.payload === null) {
      return problem(400, "Payload required");
    }
    const job = this.add({ task: body.task ?? "generate_image", payload: body.payload });
    return json(202, job, { Location: `/api/jobs/${job.jobId}`, "Retry-After": "1" });
  }

  async status(job, url, headers, signal) {
    const wait = url.searchParams.get("wait");
    if (wait !== null && this.longPoll && !TERMINAL.has(job.status)) {
      const since = Number(url.searchParams.get("since") ?? job.version);
      if (job.version <= since) job = await abortable(this.changed(job.jobId, since), signal);
      if (job.gone) return problem(404, "Job not found");
    }
    const etag = `"v${job.version}"`;
    const extra = TERMINAL.has(job.status) ? {} : { "Retry-After": this.retryAfter };
    if (headers.get("If-None-Match") === etag) {
      return new Response(null, { status: 304, headers: { ETag: etag, ...extra } });
    }
    return json(200, job, { ETag: etag, "Cache-Control": "no-store", ...extra });
  }

  cancel(job) {
    if (TERMINAL.has(job.status)) {
      return problem(409, `Job is already ${job.status}`, { job });
    }
    if (job.status === "queued") {
      return json(200, this.update(job.jobId, { status: "cancelled", error: "Cancelled" }));
    }
    return json(202, job);
  }

  retry(job) {
    if (job.status !== "failed" && job.status !== "cancelled") {
      return problem(409, `Only failed or cancelled jobs can be retried, not ${job.status}`);
    }
    const changes = { status: "queued", error: null, attempts: 0, completedAt: null };
    return json(200, this.update(job.jobId, changes));
  }

  list(params, headers) {
    const statuses = params.getAll("status");
    const tasks = params.getAll("task");
    const limit = Number(params.get("limit") ?? 50);
    const offset = Number(params.get("cursor") ?? 0);
    const all = [...this.jobs.values()]
      .reverse()
      .filter((job) => statuses.length === 0 || statuses.includes(job.status))
      .filter((job) => tasks.length === 0 || tasks.includes(job.task))
      .filter((job) => !params.has("tag") || !!job.tags?.includes(params.get("tag")));
    const summary = params.get("fields") === "summary";
    const jobs = all.slice(offset, offset + limit).map((job) => (summary ? summaryOf(job) : job));
    const nextCursor = offset + limit < all.length ? String(offset + limit) : null;
    const versions = jobs.map((job) => `${job.jobId}.${job.version}`).join("_");
    const etag = `W/"${versions}-${nextCursor}-${summary}"`;
    if (headers.get("If-None-Match") === etag) {
      return new Response(null, { status: 304, headers: { ETag: etag } });
    }
    return json(200, { jobs, nextCursor }, { ETag: etag });
  }

  stats() {
    const empty = () => ({ queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 });
    const totals = empty();
    const tasks = {};
    for (const job of this.jobs.values()) {
      tasks[job.task] ??= empty();
      tasks[job.task][job.status] += 1;
      totals[job.status] += 1;
    }
    return json(200, { tasks, totals, workers: [] });
  }
}

/** Behaves like a browser's EventSource as far as the client can tell. */
export class FakeEventSource extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;

  constructor(url, server) {
    super();
    this.url = url;
    this.server = server;
    this.readyState = FakeEventSource.CONNECTING;
    this.unsubscribe = null;
    server.sources.push(this);
    queueMicrotask(() => this.connect());
  }

  connect() {
    if (this.readyState === FakeEventSource.CLOSED) return;
    const { server } = this;
    if (server.down || server.sse === "unreachable") {
      // A network error: the browser keeps the source CONNECTING and retries later.
      this.dispatchEvent(new Event("error"));
      return;
    }
    const url = new URL(this.url, "http://fake.test");
    const parts = url.pathname.split("/");
    // GET /api/jobs/events?ids=… or ?tag=…: many jobs; GET /api/jobs/{id}/events: one job.
    const many = parts[3] === "events";
    const tag = many ? url.searchParams.get("tag") : null;
    const ids = many
      ? (url.searchParams.get("ids")?.split(",") ?? [])
      : [decodeURIComponent(parts[3])];
    const carries = (job) => (tag === null ? ids.includes(job.jobId) : !!job.tags?.includes(tag));
    const jobs = [...server.jobs.values()].filter(carries);
    const ended = () =>
      tag === null && ids.every((id) => TERMINAL.has(server.jobs.get(id)?.status ?? "completed"));
    if (
      server.sse === "refuse" ||
      (jobs.length === 0 && tag === null) ||
      (!many && ended() && this.sent)
    ) {
      // A non-200 answer (or a 204): the browser fails the connection for good.
      this.readyState = FakeEventSource.CLOSED;
      this.dispatchEvent(new Event("error"));
      return;
    }
    this.readyState = FakeEventSource.OPEN;
    this.dispatchEvent(new Event("open"));
    for (const job of jobs) this.send(job);
    if (ended()) return this.drop();
    this.unsubscribe = server.subscribe((changed) => {
      if (changed.gone || !carries(changed)) return;
      this.send(changed);
      if (ended()) this.drop();
    });
  }

  send(job) {
    if (this.readyState !== FakeEventSource.OPEN) return;
    this.sent = true;
    const event = new MessageEvent("job", {
      data: JSON.stringify(job),
      lastEventId: String(job.version),
    });
    this.dispatchEvent(event);
  }

  /** The server ends the stream: the browser would reconnect, reporting an error first. */
  drop() {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.readyState === FakeEventSource.CLOSED) return;
    this.readyState = FakeEventSource.CONNECTING;
    this.dispatchEvent(new Event("error"));
  }

  close() {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.readyState = FakeEventSource.CLOSED;
  }
}

/** Timers that run callbacks on demand and remember each requested delay. */
export class ManualTimers {
  constructor() {
    this.pending = new Map();
    this.delays = [];
    this.next = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.next++;
      this.pending.set(id, fn);
      this.delays.push(ms);
      return id;
    };
    this.clearTimeout = (id) => this.pending.delete(id);
  }

  /** Run every pending callback once (those scheduled meanwhile wait for the next call). */
  fire() {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const fn of due) fn();
    return due.length;
  }
}

/** Let pending promise callbacks and microtasks run. */
export async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}
