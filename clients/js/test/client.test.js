// Unit tests of jobqueue.js against the in-memory fake server (fakes.js).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import defaultClient, * as jobqueue from "../jobqueue.js";
import { FakeServer, ManualTimers, settle } from "./fakes.js";

const { createClient, isTerminal, JobQueueError } = jobqueue;

function setup(options = {}) {
  const server = new FakeServer();
  const timers = new ManualTimers();
  const client = createClient({
    fetch: server.fetch,
    EventSource: server.EventSource,
    timers,
    ...options,
  });
  return { server, timers, client };
}

/** Collect the versions and statuses a watch delivers. */
function recorder() {
  const seen = [];
  const errors = [];
  return {
    seen,
    errors,
    onUpdate: (job) => seen.push(job),
    onError: (error, info) => errors.push({ error, ...info }),
    statuses: () => seen.map((job) => job.status),
  };
}

describe("requests", () => {
  test("submit posts the payload, task and options and returns the job", async () => {
    const { server, client } = setup({ baseUrl: "https://jobs.example.com/", apiKey: "k1" });
    const job = await client.submit(
      "generate_image",
      { prompt: "a fox" },
      {
        priority: 5,
        maxAttempts: 2,
        concurrencyKey: "customer-7",
        tags: ["user:42"],
        webhook: { url: "https://app.example.com/hooks", events: ["completed"] },
        idempotencyKey: "abc",
        wait: 3,
      },
    );
    assert.equal(job.status, "queued");
    const [request] = server.requests;
    assert.equal(request.url.href, "https://jobs.example.com/api/jobs");
    assert.equal(request.method, "POST");
    assert.deepEqual(JSON.parse(request.body), {
      payload: { prompt: "a fox" },
      task: "generate_image",
      priority: 5,
      maxAttempts: 2,
      concurrencyKey: "customer-7",
      tags: ["user:42"],
      webhook: { url: "https://app.example.com/hooks", events: ["completed"] },
    });
    assert.equal(request.headers.get("Authorization"), "Bearer k1");
    assert.equal(request.headers.get("Idempotency-Key"), "abc");
    assert.equal(request.headers.get("Prefer"), "wait=3");
    assert.equal(request.headers.get("Content-Type"), "application/json");
  });

  test("a null task is left out so the server's default task runs", async () => {
    const { server, client } = setup();
    await client.submit(null, { prompt: "x" });
    assert.deepEqual(JSON.parse(server.requests[0].body), { payload: { prompt: "x" } });
  });

  test("errors carry the server's error text, status and body", async () => {
    const { client } = setup();
    const error = await client.submit(null, null).catch((e) => e);
    assert.ok(error instanceof JobQueueError);
    assert.ok(error instanceof Error);
    assert.equal(error.message, "Payload required");
    assert.equal(error.status, 400);
    assert.equal(error.body.error, "Payload required");
    assert.equal(error.isTransient, false);

    const missing = await client.get("nope").catch((e) => e);
    assert.equal(missing.message, "Job not found");
    assert.equal(missing.status, 404);
  });

  test("an unreachable server is a transient JobQueueError with status 0", async () => {
    const { server, client } = setup();
    server.down = true;
    const error = await client.stats().catch((e) => e);
    assert.ok(error instanceof JobQueueError);
    assert.equal(error.status, 0);
    assert.equal(error.isTransient, true);
    assert.match(error.message, /Cannot reach the job server/);
  });

  test("an answer cut off mid-body is a transient error", async () => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"jobId": "j'));
        controller.error(new TypeError("terminated"));
      },
    });
    const client = createClient({ fetch: async () => new Response(body, { status: 200 }) });
    const error = await client.get("j").catch((e) => e);
    assert.ok(error instanceof JobQueueError);
    assert.equal(error.status, 0);
    assert.equal(error.isTransient, true);
    assert.match(error.message, /cut off/);
  });

  test("a non-JSON error answer still gives a readable message", async () => {
    const client = createClient({
      fetch: async () =>
        new Response("Bad Gateway", { status: 502, headers: { "Retry-After": "7" } }),
    });
    const error = await client.get("x").catch((e) => e);
    assert.equal(error.status, 502);
    assert.equal(error.message, "Bad Gateway");
    assert.equal(error.retryAfter, 7);
  });

  test("cancel, retry, the 409 on a terminal job, list and stats", async () => {
    const { server, client } = setup();
    const queued = await client.submit(null, { prompt: "a" });
    const cancelled = await client.cancel(queued.jobId);
    assert.equal(cancelled.status, "cancelled");

    const again = await client.cancel(queued.jobId).catch((e) => e);
    assert.equal(again.status, 409);
    assert.equal(again.job.status, "cancelled");
    assert.match(again.message, /already cancelled/);

    const retried = await client.retry(queued.jobId);
    assert.equal(retried.status, "queued");
    assert.ok(retried.version > cancelled.version);

    server.add({ task: "other", status: "failed" });
    const page = await client.list({ status: ["queued", "failed"], task: "other", limit: 10 });
    assert.deepEqual(
      page.jobs.map((job) => job.task),
      ["other"],
    );
    const query = server.requests.at(-1).url.search;
    assert.equal(query, "?status=queued&status=failed&task=other&limit=10");

    const counts = await client.stats();
    assert.equal(counts.totals.queued, 1);
    assert.equal(counts.tasks.other.failed, 1);
  });

  test("ids are escaped in paths", async () => {
    const { server, client } = setup();
    await client.get("a/b?c").catch(() => {});
    assert.equal(server.requests[0].url.pathname, "/api/jobs/a%2Fb%3Fc");
  });

  test("the default exports use a client for the page's origin", async () => {
    const original = globalThis.fetch;
    const server = new FakeServer();
    globalThis.fetch = server.fetch;
    try {
      const job = await jobqueue.submit(null, { prompt: "x" });
      assert.equal((await jobqueue.get(job.jobId)).jobId, job.jobId);
      assert.equal(server.requests[0].url.pathname, "/api/jobs");
      assert.equal(defaultClient.get, jobqueue.get);
    } finally {
      globalThis.fetch = original;
    }
  });

  test("isTerminal", () => {
    assert.equal(isTerminal("completed"), true);
    assert.equal(isTerminal({ status: "cancelled" }), true);
    assert.equal(isTerminal({ status: "processing" }), false);
    assert.equal(isTerminal(null), false);
  });
});

describe("list for pollers", () => {
  test("fields=summary asks for jobs without their results", async () => {
    const { server, client } = setup();
    const { jobId } = server.add({ status: "completed", result: { image: "big" } });
    server.add({ status: "processing", progress: { current: 1, total: 4, message: "long" } });
    const page = await client.list({ fields: "summary", limit: 5 });
    assert.equal(server.requests.at(-1).url.search, "?limit=5&fields=summary");
    const done = page.jobs.find((job) => job.jobId === jobId);
    assert.equal("result" in done, false);
    assert.deepEqual(page.jobs.find((job) => job.jobId !== jobId).progress, {
      current: 1,
      total: 4,
    });
  });

  test("the same listing again is conditional and a 304 gives back the same page", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const first = await client.list({ fields: "summary" });
    assert.equal(server.requests.at(-1).headers.get("If-None-Match"), null);

    const idle = await client.list({ fields: "summary" });
    const sent = server.requests.at(-1).headers.get("If-None-Match");
    assert.ok(sent);
    assert.equal(idle, first);

    server.update(jobId, { status: "processing" });
    const changed = await client.list({ fields: "summary" });
    assert.notEqual(changed, first);
    assert.equal(changed.jobs[0].status, "processing");
    assert.equal(server.requests.at(-1).headers.get("If-None-Match"), sent);

    // Another listing is not compared with the last one.
    await client.list({ status: "queued", fields: "summary" });
    assert.equal(server.requests.at(-1).headers.get("If-None-Match"), null);
  });
});

describe("watch over Server-Sent Events", () => {
  test("delivers every change in order and stops at the terminal state", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const rec = recorder();
    client.watch(jobId, rec.onUpdate, { onError: rec.onError });
    await settle();
    server.update(jobId, {
      status: "processing",
      progress: { current: 1, total: 2, message: "a" },
    });
    server.update(jobId, { progress: { current: 2, total: 2, message: "b" } });
    server.update(jobId, { status: "completed", result: { ok: true } });
    server.update(jobId, { status: "completed", result: "never seen" });
    await settle();
    assert.deepEqual(rec.statuses(), ["queued", "processing", "processing", "completed"]);
    assert.deepEqual(rec.seen.at(-1).result, { ok: true });
    assert.deepEqual(rec.errors, []);
    assert.equal(server.sources.length, 1);
    assert.equal(server.sources[0].readyState, 2, "the stream is closed");
    const reads = server.requests.map((r) => r.url.search);
    assert.deepEqual(reads, [""], "one read beside the stream, no polling");
  });

  test("a waiting job that moves up the queue is delivered again at the same version", async () => {
    const { server, client } = setup();
    const { jobId } = server.add({ queuePosition: 2 });
    const rec = recorder();
    client.watch(jobId, rec.onUpdate);
    await settle();
    server.move(jobId, 1);
    server.move(jobId, 1);
    server.move(jobId, 0);
    server.update(jobId, { status: "processing", queuePosition: null });
    await settle();
    assert.deepEqual(
      rec.seen.map((job) => [job.version, job.queuePosition]),
      [
        [1, 2],
        [1, 1],
        [1, 0],
        [2, null],
      ],
    );
  });

  test("a waiting job whose expected start moves is delivered again at the same version", async () => {
    const { server, client } = setup();
    const soon = "2026-12-08T01:00:10.000Z";
    const later = "2026-12-08T01:00:20.000Z";
    const { jobId } = server.add({ queuePosition: 1, estimatedStartAt: soon });
    const rec = recorder();
    client.watch(jobId, rec.onUpdate);
    await settle();
    server.move(jobId, 1, soon);
    server.move(jobId, 1, later);
    server.move(jobId, 1, null);
    await settle();
    assert.deepEqual(
      rec.seen.map((job) => [job.version, job.queuePosition, job.estimatedStartAt]),
      [
        [1, 1, soon],
        [1, 1, later],
        [1, 1, null],
      ],
    );
  });

  test("unsubscribe closes the stream and nothing more is delivered", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const rec = recorder();
    const unsubscribe = client.watch(jobId, rec.onUpdate);
    await settle();
    unsubscribe();
    server.update(jobId, { status: "processing" });
    await settle();
    assert.deepEqual(rec.statuses(), ["queued"]);
    assert.equal(server.sources[0].readyState, 2);
    assert.equal(server.listeners.size, 0);
  });

  test("an AbortSignal stops the watch too", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const rec = recorder();
    const controller = new AbortController();
    client.watch(jobId, rec.onUpdate, { signal: controller.signal });
    await settle();
    controller.abort();
    server.update(jobId, { status: "processing" });
    await settle();
    assert.deepEqual(rec.statuses(), ["queued"]);
  });

  test("a refused stream falls back to long-poll, which follows the job to the end", async () => {
    const { server, client } = setup();
    server.sse = "refuse";
    const { jobId } = server.add();
    const rec = recorder();
    client.watch(jobId, rec.onUpdate, { onError: rec.onError });
    await settle();
    server.update(jobId, { status: "processing" });
    await settle();
    server.update(jobId, { status: "failed", error: "boom" });
    await settle();
    assert.deepEqual(rec.statuses(), ["queued", "processing", "failed"]);
    const polls = server.requests.map((r) => r.url.search).filter((query) => query);
    assert.deepEqual(polls, ["?wait=25&since=0", "?wait=25&since=1", "?wait=25&since=2"]);
    assert.deepEqual(rec.errors, []);
  });

  test("a stream that drops twice without news gives way to long-poll", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const rec = recorder();
    client.watch(jobId, rec.onUpdate);
    await settle();
    const source = server.sources[0];
    const polls = () => server.requests.map((r) => r.url.search).filter((query) => query);
    source.dispatchEvent(new Event("error"));
    assert.deepEqual(polls(), [], "one reconnect is left to the browser");
    source.dispatchEvent(new Event("error"));
    await settle();
    assert.equal(source.readyState, 2);
    assert.deepEqual(polls(), ["?wait=25&since=1"]);
  });

  test("an API key given as a function is read at each request", async () => {
    let key = null;
    const { server, client } = setup({ apiKey: () => key });
    await client.stats();
    key = "later";
    await client.stats();
    const sent = server.requests.map((request) => request.headers.get("Authorization"));
    assert.deepEqual(sent, [null, "Bearer later"]);
    const { jobId } = server.add({ status: "completed" });
    await client.wait(jobId);
    assert.equal(server.sources.length, 0, "a watch with a key skips SSE");
  });

  test("with an API key the watch skips SSE, which cannot send the header", async () => {
    const { server, client } = setup({ apiKey: "secret" });
    const { jobId } = server.add({ status: "completed" });
    const job = await client.wait(jobId);
    assert.equal(job.status, "completed");
    assert.equal(server.sources.length, 0);
    assert.equal(server.requests[0].headers.get("Authorization"), "Bearer secret");
  });
});

describe("many watches share one stream", () => {
  test("every watch of a client rides one EventSource, and a later one reopens it", async () => {
    const { server, client } = setup();
    const jobs = Array.from({ length: 10 }, () => server.add());
    const recs = jobs.map(() => recorder());
    jobs.forEach((job, n) => client.watch(job.jobId, recs[n].onUpdate));
    await settle();
    assert.equal(server.sources.length, 1);
    const ids = new URL(server.sources[0].url, "http://x").searchParams.get("ids");
    assert.deepEqual(
      ids.split(","),
      jobs.map((job) => job.jobId),
    );
    for (const job of jobs) server.update(job.jobId, { status: "completed" });
    await settle();
    assert.ok(recs.every((rec) => rec.statuses().join() === "queued,completed"));
    assert.ok(
      server.requests.every((r) => !r.url.search),
      "no polling beside the stream",
    );

    const later = server.add();
    const rec = recorder();
    client.watch(later.jobId, rec.onUpdate);
    await settle();
    assert.equal(server.sources.length, 2);
    assert.equal(new URL(server.sources[1].url, "http://x").searchParams.get("ids"), later.jobId);
    server.update(later.jobId, { status: "failed" });
    await settle();
    assert.deepEqual(rec.statuses(), ["queued", "failed"]);
  });

  test("a job the stream leaves out (unknown or hidden) ends its watch with the 404", async () => {
    const { server, client } = setup();
    const known = server.add();
    const rec = recorder();
    const missing = recorder();
    client.watch(known.jobId, rec.onUpdate);
    client.watch("nope", missing.onUpdate, { onError: missing.onError });
    await settle();
    assert.equal(server.sources.length, 1);
    assert.equal(missing.errors.length, 1);
    assert.equal(missing.errors[0].error.status, 404);
    assert.equal(missing.errors[0].willRetry, false);
    server.update(known.jobId, { status: "completed" });
    await settle();
    assert.deepEqual(rec.statuses(), ["queued", "completed"]);
  });

  test("watchTag streams the tag's jobs, and those submitted later, until stopped", async () => {
    const { server, client } = setup();
    const early = server.add({ tags: ["batch"] });
    server.add({ tags: ["other"] });
    const rec = recorder();
    const stop = client.watchTag("batch", rec.onUpdate);
    await settle();
    const later = server.add({ tags: ["batch"] });
    server.update(later.jobId, { status: "processing" });
    server.update(early.jobId, { status: "completed" });
    await settle();
    assert.equal(new URL(server.sources[0].url, "http://x").searchParams.get("tag"), "batch");
    const seen = rec.seen.map((job) => `${job.jobId}:${job.status}`);
    assert.deepEqual(seen, [
      `${early.jobId}:queued`,
      `${later.jobId}:processing`,
      `${early.jobId}:completed`,
    ]);
    stop();
    assert.equal(server.sources[0].readyState, 2);
  });

  test("without a stream, watchTag polls the tag's newest jobs", async () => {
    const { server, timers, client } = setup({ EventSource: null });
    const job = server.add({ tags: ["t"] });
    const rec = recorder();
    client.watchTag("t", rec.onUpdate);
    await settle();
    server.update(job.jobId, { status: "completed" });
    timers.fire();
    await settle();
    assert.deepEqual(rec.statuses(), ["queued", "completed"]);
    assert.equal(server.requests[0].url.searchParams.get("tag"), "t");
  });
});

describe("watch by polling", () => {
  test("a server that ignores wait is polled at the pace of its Retry-After", async () => {
    const { server, timers, client } = setup({ EventSource: null });
    server.longPoll = false;
    server.retryAfter = "3";
    const { jobId } = server.add();
    const rec = recorder();
    client.watch(jobId, rec.onUpdate, { onError: rec.onError });
    await settle();
    // An immediate answer with nothing new: long-poll is given up for polling.
    const searches = server.requests.map((r) => r.url.search);
    assert.deepEqual(searches, ["?wait=25&since=0", "?wait=25&since=1", ""]);
    assert.deepEqual(timers.delays, [3000]);

    timers.fire();
    await settle();
    assert.equal(server.requests.at(-1).headers.get("If-None-Match"), '"v1"', "ETag is reused");
    server.update(jobId, { status: "processing" });
    timers.fire();
    await settle();
    server.update(jobId, { status: "completed" });
    timers.fire();
    await settle();
    assert.deepEqual(rec.statuses(), ["queued", "processing", "completed"]);
    assert.equal(timers.pending.size, 0, "no timer is left once the job is terminal");
    assert.ok(timers.delays.every((ms) => ms === 3000));
  });

  test("transport 'poll' polls from the start and honours pollInterval without Retry-After", async () => {
    const { server, timers, client } = setup({ pollInterval: 0.25 });
    server.retryAfter = "";
    const { jobId } = server.add();
    const rec = recorder();
    const unsubscribe = client.watch(jobId, rec.onUpdate, { transport: "poll" });
    await settle();
    assert.equal(server.requests.length, 1);
    assert.equal(server.sources.length, 0);
    assert.deepEqual(timers.delays, [250]);
    unsubscribe();
    assert.equal(timers.pending.size, 0);
  });

  test("transient failures are reported and retried with backoff; a 404 ends the watch", async () => {
    const { server, timers, client } = setup({ EventSource: null });
    const { jobId } = server.add();
    server.down = true;
    const rec = recorder();
    client.watch(jobId, rec.onUpdate, { onError: rec.onError });
    await settle();
    assert.equal(rec.errors.length, 1);
    assert.equal(rec.errors[0].willRetry, true);
    assert.equal(rec.errors[0].error.status, 0);
    timers.fire();
    await settle();
    timers.fire();
    await settle();
    assert.ok(rec.errors.length >= 2);
    assert.ok(timers.delays[1] > timers.delays[0] * 1.1, "the backoff grows");

    server.down = false;
    timers.fire();
    await settle();
    assert.deepEqual(rec.statuses(), ["queued"], "following resumes once the server is back");

    server.remove(jobId);
    await settle();
    const last = rec.errors.at(-1);
    assert.equal(last.error.status, 404);
    assert.equal(last.willRetry, false);
    assert.equal(timers.pending.size, 0);
  });

  test("429 and 503 answers are retried no sooner than their Retry-After", async () => {
    let calls = 0;
    const timers = new ManualTimers();
    const fetch = async () => {
      calls += 1;
      return calls === 1
        ? new Response(JSON.stringify({ error: "Slow down", status: 429 }), {
            status: 429,
            headers: { "Retry-After": "20", "Content-Type": "application/json" },
          })
        : new Response(JSON.stringify({ jobId: "j", status: "completed", version: 3 }), {
            status: 200,
            headers: { "Content-Type": "application/json" },
          });
    };
    const client = createClient({ fetch, timers, EventSource: null });
    const rec = recorder();
    client.watch("j", rec.onUpdate, { onError: rec.onError, transport: "poll" });
    await settle();
    assert.equal(rec.errors[0].error.message, "Slow down");
    assert.ok(timers.delays[0] >= 20000);
    timers.fire();
    await settle();
    assert.deepEqual(rec.statuses(), ["completed"]);
  });

  test("long-polls beyond maxStreams poll, and move up when a connection frees", async () => {
    const { server, timers, client } = setup({ maxStreams: 1, EventSource: null });
    const first = server.add();
    const second = server.add();
    const a = recorder();
    const b = recorder();
    const stopFirst = client.watch(first.jobId, a.onUpdate);
    client.watch(second.jobId, b.onUpdate);
    await settle();
    const longPolled = (id) =>
      server.requests.some((r) => r.url.searchParams.has("wait") && r.url.pathname.endsWith(id));
    assert.equal(longPolled(second.jobId), false, "the second watch polls");
    stopFirst();
    timers.fire();
    await settle();
    assert.equal(longPolled(second.jobId), true, "the second watch took the freed connection");
    server.update(second.jobId, { status: "completed" });
    await settle();
    assert.deepEqual(b.statuses(), ["queued", "completed"]);
  });

  test("a throwing onUpdate is reported but does not stop the watch", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const seen = [];
    const thrown = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (fn) =>
      original(() => {
        try {
          fn();
        } catch (error) {
          thrown.push(error);
        }
      });
    try {
      client.watch(jobId, (job) => {
        seen.push(job.status);
        throw new Error("bug in the page");
      });
      await settle();
      server.update(jobId, { status: "completed" });
      await settle();
    } finally {
      globalThis.queueMicrotask = original;
    }
    assert.deepEqual(seen, ["queued", "completed"]);
    assert.equal(thrown.length, 2);
  });
});

describe("wait", () => {
  test("resolves with the terminal job and passes updates along", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const seen = [];
    const done = client.wait(jobId, { onUpdate: (job) => seen.push(job.status) });
    await settle();
    server.update(jobId, { status: "processing" });
    server.update(jobId, { status: "cancelled", error: "Cancelled by request" });
    const job = await done;
    assert.equal(job.status, "cancelled");
    assert.deepEqual(seen, ["queued", "processing", "cancelled"]);
  });

  test("rejects with the server's error for an unknown job", async () => {
    const { client } = setup({ EventSource: null });
    await assert.rejects(client.wait("missing"), { name: "JobQueueError", status: 404 });
  });

  test("rejects when aborted and stops following", async () => {
    const { server, client } = setup();
    const { jobId } = server.add();
    const controller = new AbortController();
    const done = client.wait(jobId, { signal: controller.signal });
    await settle();
    controller.abort();
    await assert.rejects(done, { name: "AbortError" });
    assert.equal(server.sources[0].readyState, 2);
  });
});

describe("read tokens", () => {
  test("a client's token goes as the bearer and as ?token= on its one stream", async () => {
    const { server, client } = setup({ token: "tag-token" });
    const jobs = [server.add({ status: "completed" }), server.add({ status: "completed" })];
    await Promise.all(jobs.map((job) => client.wait(job.jobId)));

    assert.equal(server.sources.length, 1, "with a token the watches still share one stream");
    assert.equal(new URL(server.sources[0].url, "http://x").searchParams.get("token"), "tag-token");
    const sent = server.requests.map((request) => request.headers.get("Authorization"));
    assert.ok(sent.length > 0 && sent.every((header) => header === "Bearer tag-token"));
  });

  test("watches with their own tokens share a stream per token, beside an API key", async () => {
    const { server, client } = setup({ apiKey: "secret" });
    const first = server.add({ status: "completed" });
    const second = server.add({ status: "completed" });
    await client.wait(first.jobId, { token: "job-1" });
    await client.wait(second.jobId, { token: "job-2" });

    const tokens = server.sources.map((s) => new URL(s.url, "http://x").searchParams.get("token"));
    assert.deepEqual(tokens, ["job-1", "job-2"]);
    // Requests carry the key when there is one: it may do more than a token.
    assert.ok(server.requests.every((r) => r.headers.get("Authorization") === "Bearer secret"));
  });
});
