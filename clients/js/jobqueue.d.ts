// Type declarations for jobqueue.js, written by hand to match the HTTP contract (API.md).

/** Where a job is in its life. */
export type JobStatus = "queued" | "processing" | "completed" | "failed" | "cancelled";

/** Any JSON value. */
export type JSONValue =
  null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/** The latest progress reported by the running task. */
export interface Progress {
  current: number;
  total: number | null;
  message: string | null;
}

/** The job representation returned by every endpoint and pushed by the event stream. */
export interface Job<Result = JSONValue> {
  jobId: string;
  task: string;
  status: JobStatus;
  progress: Progress | null;
  result: Result | null;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  /** ISO-8601 UTC timestamps, e.g. "2026-11-29T10:27:00.123Z". */
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  expiresAt: string | null;
  /** While queued: the earliest time it may start (a delay, or a retry's backoff); null otherwise. */
  runAt: string | null;
  /**
   * While queued and due, in a job's status and events: how many ready jobs of its task run
   * first (0: next); null otherwise, and in listings.
   */
  queuePosition: number | null;
  /**
   * Where queuePosition is given, while queued: the best estimate of when it starts (ISO-8601),
   * from the jobs ahead and its task's recent start rate (not before runAt); null when unknown.
   */
  estimatedStartAt: string | null;
  /** The tags given at submit (empty when none). */
  tags: string[];
  /** Increases on every change; updates are delivered in version order. */
  version: number;
}

export interface Page<Result = JSONValue> {
  jobs: Job<Result>[];
  nextCursor: string | null;
}

/** A job as a listing with `fields: "summary"` has it: no result, no progress message. */
export interface JobSummary extends Omit<Job, "result" | "progress"> {
  progress: Omit<Progress, "message"> | null;
}

export interface SummaryPage {
  jobs: JobSummary[];
  nextCursor: string | null;
}

export type StatusCounts = Record<JobStatus, number>;

export interface WorkerInfo {
  id: string;
  lastSeenAt: string;
  running: number;
  host?: string;
  pid?: number;
  /** The tasks it serves. */
  tasks?: string[];
}

/** The limits a task sets (only those set). */
export interface TaskLimits {
  concurrency?: number;
  globalConcurrency?: number;
  keyConcurrency?: number;
  cost?: number;
  maxQueued?: number;
}

export interface Stats {
  tasks: Record<string, StatusCounts>;
  totals: StatusCounts;
  workers: WorkerInfo[];
  /** Per task, the running jobs of its busiest concurrency keys. */
  runningKeys?: Record<string, Record<string, number>>;
  limits?: Record<string, TaskLimits>;
}

/** The statuses a job never leaves (except by an explicit operator retry). */
export declare const TERMINAL_STATUSES: readonly ["completed", "failed", "cancelled"];

/** True when the job (or status) is completed, failed or cancelled. */
export declare function isTerminal(
  jobOrStatus: { status: JobStatus | string } | JobStatus | string | null | undefined,
): boolean;

/** A failed request; `message` is the server's `error` text when it sent one. */
export declare class JobQueueError extends Error {
  constructor(
    message: string,
    options?: { status?: number; body?: unknown; retryAfter?: number | null; cause?: unknown },
  );
  name: "JobQueueError";
  /** The HTTP status, or 0 when the server could not be reached. */
  status: number;
  /** The parsed response body (the API's error object), or null. */
  body: unknown;
  /** The server's Retry-After in seconds, or null. */
  retryAfter: number | null;
  /** The job carried by the error body (a 409 from cancel carries the terminal job), or null. */
  readonly job: Job | null;
  /** True for an unreachable server, 408, 429 and 5xx: trying later can succeed. */
  readonly isTransient: boolean;
}

export interface ClientOptions {
  /** The server's origin, e.g. "https://jobs.example.com"; default: the page's own origin. */
  baseUrl?: string;
  /** Where the job endpoints live; default "/api/jobs". */
  prefix?: string;
  /**
   * Sent as `Authorization: Bearer <apiKey>`; a function is called at each request (for a page
   * that learns the key later). Watches with a key use long-poll instead of SSE.
   */
  apiKey?: string | null | (() => string | null);
  /**
   * A read token (`readToken` of a submit answer, or one from `POST {prefix}/{jobId}/token` or
   * `POST {prefix}/tokens`), for a page that must not hold a key: sent as `Authorization:
   * Bearer` on requests and as `?token=` on event streams, so watches keep using SSE. A
   * function is called each time it is needed.
   */
  token?: string | null | (() => string | null);
  fetch?: typeof globalThis.fetch;
  /** An EventSource implementation; null disables Server-Sent Events. */
  EventSource?: (new (url: string) => EventSource) | null;
  /**
   * How many watches may hold a long-poll open at once when SSE does not work (default 4); the
   * rest poll. Watches over SSE all share one stream, whatever their number.
   */
  maxStreams?: number;
  /** How long one long-poll request may be held, in seconds (default 25). */
  longPollSeconds?: number;
  /** Seconds between polls when the server sends no Retry-After (default 1). */
  pollInterval?: number;
  timers?: {
    setTimeout(callback: () => void, ms: number): unknown;
    clearTimeout(id: unknown): void;
  };
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export type WebhookEvent = "started" | "output" | "completed" | "failed" | "cancelled";

export interface Webhook {
  url: string;
  /** Default: `completed`, `failed` and `cancelled`. */
  events?: WebhookEvent[];
}

export interface SubmitOptions extends RequestOptions {
  priority?: number;
  delaySeconds?: number;
  timeoutSeconds?: number;
  maxAttempts?: number;
  ttlSeconds?: number;
  /** Jobs with the same key share the task's `key_concurrency` limit. */
  concurrencyKey?: string;
  /** At most 10 labels of letters, digits and `._:-`, to list the job by. */
  tags?: string[];
  /** Signed `POST`s of the job's events to a public `http(s)` URL. */
  webhook?: Webhook;
  /** Sent as the `Idempotency-Key` header. */
  idempotencyKey?: string;
  /** Let the server hold the answer up to this many seconds (`Prefer: wait=N`). */
  wait?: number;
}

export interface ListOptions extends RequestOptions {
  status?: JobStatus | JobStatus[];
  task?: string | string[];
  /** Only jobs carrying this tag. */
  tag?: string;
  limit?: number;
  cursor?: string | null;
  /** "summary": leave each job's `result` and `progress.message` out (for pollers). */
  fields?: "summary";
}

export type Transport = "auto" | "sse" | "longpoll" | "poll";

export interface GetOptions extends RequestOptions {
  /** A read token for this call instead of the client's. */
  token?: string | null;
}

export interface WatchOptions {
  /** A read token for this job instead of the client's; watches with one token share a stream. */
  token?: string | null;
  /** Called for every failed exchange; the watch ends when `willRetry` is false. */
  onError?: (error: JobQueueError, info: { willRetry: boolean }) => void;
  /** Called when the server answers again after a transient failure. */
  onReconnect?: () => void;
  /** The best transport to try first (default "auto": SSE, then long-poll, then polling). */
  transport?: Transport;
  /** Only versions above this one are delivered (default 0: the current state comes first). */
  since?: number;
  signal?: AbortSignal;
}

export interface WatchTagOptions {
  /** A tag token for this watch instead of the client's. */
  token?: string | null;
  /** Called for every failed exchange; the watch ends when `willRetry` is false. */
  onError?: (error: JobQueueError, info: { willRetry: boolean }) => void;
  signal?: AbortSignal;
}

export interface WaitOptions<Result = JSONValue> {
  /** A read token for this job instead of the client's. */
  token?: string | null;
  onUpdate?: (job: Job<Result>) => void;
  signal?: AbortSignal;
  transport?: Transport;
}

/** Stops a watch; calling it again does nothing. */
/** The submit answer: the job, and with API keys on the server a read token for it. */
export interface SubmittedJob<Result = JSONValue> extends Job<Result> {
  readToken: string | null;
}

export type Unsubscribe = () => void;

export interface Client {
  submit<Result = JSONValue>(
    task: string | null | undefined,
    payload: JSONValue,
    options?: SubmitOptions,
  ): Promise<SubmittedJob<Result>>;
  get<Result = JSONValue>(jobId: string, options?: GetOptions): Promise<Job<Result>>;
  watch<Result = JSONValue>(
    jobId: string,
    onUpdate: (job: Job<Result>) => void,
    options?: WatchOptions,
  ): Unsubscribe;
  /**
   * Follow every job carrying `tag`, including jobs submitted later with it: `onUpdate` gets each
   * one's current state, then every newer version of any of them, until stopped.
   */
  watchTag<Result = JSONValue>(
    tag: string,
    onUpdate: (job: Job<Result>) => void,
    options?: WatchTagOptions,
  ): Unsubscribe;
  wait<Result = JSONValue>(jobId: string, options?: WaitOptions<Result>): Promise<Job<Result>>;
  cancel<Result = JSONValue>(jobId: string, options?: RequestOptions): Promise<Job<Result>>;
  retry<Result = JSONValue>(jobId: string, options?: RequestOptions): Promise<Job<Result>>;
  /**
   * The same listing as the call before is a conditional request; while nothing changed it
   * resolves with the previous page object itself.
   */
  list(options: ListOptions & { fields: "summary" }): Promise<SummaryPage>;
  list<Result = JSONValue>(options?: ListOptions): Promise<Page<Result>>;
  stats(options?: RequestOptions): Promise<Stats>;
  /** The absolute (or origin-relative) URL of an API path, e.g. url("/stats"). */
  url(path: string, query?: Record<string, unknown>): string;
}

export declare function createClient(options?: ClientOptions): Client;

declare const defaultClient: Client;
export default defaultClient;

export declare const submit: Client["submit"];
export declare const get: Client["get"];
export declare const watch: Client["watch"];
export declare const watchTag: Client["watchTag"];
export declare const wait: Client["wait"];
export declare const cancel: Client["cancel"];
export declare const retry: Client["retry"];
export declare const list: Client["list"];
export declare const stats: Client["stats"];
