// Contract tests of jobqueue.js against a real server running the demo task.
// They run only when JOBQUEUE_TEST_SERVER names the server, e.g. http://127.0.0.1:8000
// (tests/browser/test_node_client.py starts `jobqueue demo` and sets it).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createClient, isTerminal, JobQueueError } from "../jobqueue.js";

const SERVER = process.env.JOBQUEUE_TEST_SERVER;
const skip = SERVER ? false : "JOBQUEUE_TEST_SERVER is not set";

describe("against a real server", { skip, timeout: 120_000 }, () => {
  // Node 20 has no EventSource: watches use long-poll, then polling.
  const client = createClient({ baseUrl: SERVER });

  test("submit, follow with progress, and get the image", async () => {
    const job = await client.submit(null, {
      prompt: "contract: a quiet lake",
      width: 64,
      height: 64,
    });
    assert.equal(job.status, "queued");
    assert.equal(job.task, "generate_image");
    assert.match(job.jobId, /^[0-9a-f-]{36}$/);

    const seen = [];
    const done = await client.wait(job.jobId, { onUpdate: (update) => seen.push(update) });
    assert.equal(done.status, "completed");
    assert.match(done.result.image, /^data:image\/png;base64,/);
    assert.deepEqual([done.result.width, done.result.height], [64, 64]);
    const versions = seen.map((update) => update.version);
    assert.deepEqual(
      versions,
      [...versions].sort((a, b) => a - b),
      "versions only grow",
    );
    const steps = new Set(
      seen.map((update) => update.progress?.current).filter((n) => n > 0 && n < 20),
    );
    assert.ok(steps.size >= 2, `progress was followed: ${[...steps]}`);
  });

  test("plain polling honours Retry-After and reaches the terminal state", async () => {
    const delays = [];
    const polling = createClient({
      baseUrl: SERVER,
      timers: {
        setTimeout: (fn, ms) => {
          delays.push(ms);
          return setTimeout(fn, ms);
        },
        clearTimeout: (id) => clearTimeout(id),
      },
    });
    const job = await polling.submit("generate_image", {
      prompt: "contract: polled",
      width: 64,
      height: 64,
    });
    const done = await polling.wait(job.jobId, { transport: "poll" });
    assert.equal(done.status, "completed");
    assert.ok(delays.length > 0 && delays.every((ms) => ms >= 1000), `delays: ${delays}`);
  });

  test("errors carry the server's error text", async () => {
    await assert.rejects(client.submit(null, null), (error) => {
      assert.ok(error instanceof JobQueueError);
      assert.equal(error.status, 400);
      assert.equal(error.message, "Payload required");
      assert.equal(error.body.error, "Payload required");
      return true;
    });
    await assert.rejects(client.get("00000000-0000-4000-8000-000000000000"), {
      status: 404,
      message: "Job not found",
    });
    await assert.rejects(client.submit("no_such_task", { prompt: "x" }), { status: 400 });
    await assert.rejects(client.submit(null, { prompt: "x", width: 100000 }), (error) => {
      assert.equal(error.status, 422);
      assert.ok(error.message.length > 0);
      return true;
    });
  });

  test("cancel a running job, see the 409 on a second cancel, then retry it", async () => {
    const job = await client.submit(null, { prompt: "contract: to cancel", width: 64, height: 64 });
    await new Promise((resolve, reject) => {
      const stop = client.watch(
        job.jobId,
        (update) => {
          if (update.status === "processing" || isTerminal(update)) {
            stop();
            resolve();
          }
        },
        { onError: (error, { willRetry }) => willRetry || reject(error) },
      );
    });
    const asked = await client.cancel(job.jobId);
    assert.ok(["processing", "cancelled"].includes(asked.status));
    const cancelled = await client.wait(job.jobId);
    assert.equal(cancelled.status, "cancelled");

    const again = await client.cancel(job.jobId).catch((error) => error);
    assert.equal(again.status, 409);
    assert.equal(again.job.status, "cancelled");

    const retried = await client.retry(job.jobId);
    assert.equal(retried.status, "queued");
    assert.ok(retried.version > cancelled.version);
    assert.equal((await client.wait(job.jobId)).status, "completed");
  });

  test("list with filters and paging, and stats", async () => {
    const job = await client.submit(null, { prompt: "contract: listed" }, { delaySeconds: 3600 });
    const page = await client.list({ status: "queued", task: "generate_image", limit: 1 });
    assert.equal(page.jobs.length, 1);
    assert.equal(page.jobs[0].jobId, job.jobId, "newest first");
    assert.ok(page.jobs.every((listed) => listed.status === "queued"));
    if (page.nextCursor) {
      const next = await client.list({ status: "queued", limit: 1, cursor: page.nextCursor });
      assert.notEqual(next.jobs[0]?.jobId, job.jobId);
    }
    const counts = await client.stats();
    assert.ok(counts.totals.queued >= 1);
    assert.ok(counts.tasks.generate_image.queued >= 1);
    assert.ok(Array.isArray(counts.workers));
    await client.cancel(job.jobId);
  });

  test("Prefer: wait answers a short job's terminal state at once", async () => {
    const job = await client.submit(
      null,
      { prompt: "contract: waited", width: 64, height: 64 },
      {
        wait: 30,
        idempotencyKey: `contract-${Date.now()}`,
      },
    );
    assert.equal(job.status, "completed");
  });
});
