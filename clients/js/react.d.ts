// Type declarations for react.js (the useJob hook), written by hand.

import type {
  Client,
  Job,
  JobQueueError,
  JobStatus,
  JSONValue,
  Progress,
  SubmitOptions,
  Transport,
} from "./jobqueue.js";

export interface UseJobOptions {
  /** The client to use (from createClient); default: the page's own origin. */
  client?: Client;
  /** The task `start` submits to; default: the server's default task. */
  task?: string | null;
  /** Follow an existing job instead of starting one. */
  jobId?: string | null;
  submitOptions?: SubmitOptions;
  transport?: Transport;
  /** A read token, passed to `watch` (a tag token covers many jobs). */
  token?: string | null;
}

export interface UseJobResult<Result = JSONValue> {
  job: Job<Result> | null;
  jobId: string | null;
  /** "error" means a request failed before there was a job to show. */
  status: "idle" | "submitting" | "error" | JobStatus;
  progress: Progress | null;
  /** 0-100 when the task reports a total (100 once completed), else null. */
  percent: number | null;
  /** The task's return value once completed, else null. */
  result: Result | null;
  /** Why the job failed or was cancelled, or why a request failed; null otherwise. */
  error: string | null;
  requestError: JobQueueError | null;
  /** Set while the server cannot be reached (the hook keeps retrying); cleared when it answers. */
  connectionError: JobQueueError | null;
  /** True from start() until the job is terminal. */
  isActive: boolean;
  /** Resolves with the submitted job, or null when the submit failed (see `requestError`). */
  start(payload: JSONValue, options?: SubmitOptions): Promise<Job<Result> | null>;
  cancel(): Promise<Job<Result> | null>;
  retry(): Promise<Job<Result> | null>;
  reset(): void;
}

export declare function useJob<Result = JSONValue>(options?: UseJobOptions): UseJobResult<Result>;

export interface UseJobsOptions {
  /** The client to use (from createClient); default: the page's own origin. */
  client?: Client;
  transport?: Transport;
  /** A read token, passed to `watch` (a tag token covers many jobs). */
  token?: string | null;
}

export interface UseJobsResult<Result = JSONValue> {
  /** The jobs known so far, in the order of the ids given. */
  jobs: Job<Result>[];
  byId: Record<string, Job<Result>>;
  /** By id: the failure that ended a job's watch (a 404 for an unknown or hidden job). */
  errors: Record<string, JobQueueError>;
  /** True while any listed job may still change. */
  isActive: boolean;
}

/** Follow several jobs at once, all over the client's one shared event stream. */
export declare function useJobs<Result = JSONValue>(
  ids: readonly string[],
  options?: UseJobsOptions,
): UseJobsResult<Result>;

export interface UseTaggedJobsResult<Result = JSONValue> {
  /** Every job carrying the tag, in the order they became known, each at its latest state. */
  jobs: Job<Result>[];
  /** The failure that ended the watch, or null. */
  error: JobQueueError | null;
}

/** Follow every job carrying `tag`, including jobs submitted later with it. */
export declare function useTaggedJobs<Result = JSONValue>(
  tag: string,
  options?: { client?: Client; token?: string | null },
): UseTaggedJobsResult<Result>;
