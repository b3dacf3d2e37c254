// Tests of the hooks (useJob, useJobs, useTaggedJobs), rendered with react-dom into a happy-dom document, over the fake server.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Window } from "happy-dom";

import { createClient } from "../jobqueue.js";
import { FakeServer, ManualTimers, settle } from "./fakes.js";

const window = new Window({ url: "http://localhost/" });
let React;
let act;
let createRoot;
let useJob;
let useJobs;
let useTaggedJobs;

before(async () => {
  globalThis.window = window;
  globalThis.document = window.document;
  // Node 20 has no navigator of its own; react-dom reads it once at load.
  if (!("navigator" in globalThis)) globalThis.navigator = window.navigator;
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  React = await import("react");
  ({ act } = React);
  ({ createRoot } = await import("react-dom/client"));
  ({ useJob, useJobs, useTaggedJobs } = await import("../react.js"));
});

after(async () => {
  await window.happyDOM.close();
  delete globalThis.window;
  delete globalThis.document;
});

/** A change made on `server` by a "worker", and the re-render it causes. */
function changeOn(server) {
  return (jobId, fields) =>
    act(async () => {
      server.update(jobId, fields);
      await settle();
    });
}

/** Render a component that exposes the hook's latest return value, and the fake server behind it. */
async function renderHook(options = {}, serverSetup = () => {}, { strict = false } = {}) {
  const server = new FakeServer();
  serverSetup(server);
  const timers = new ManualTimers();
  const client = createClient({ fetch: server.fetch, EventSource: server.EventSource, timers });
  const result = { current: null, renders: 0 };
  function Probe() {
    result.current = useJob({ client, ...options });
    result.renders += 1;
    return React.createElement("output", null, result.current.status);
  }
  const container = document.createElement("div");
  document.body.appendChild(container);
  const root = createRoot(container);
  const probe = React.createElement(Probe);
  await act(async () =>
    root.render(strict ? React.createElement(React.StrictMode, null, probe) : probe),
  );
  return {
    server,
    timers,
    result,
    container,
    unmount: () => act(async () => root.unmount()),
    flush: () => act(() => settle()),
    change: changeOn(server),
  };
}

describe("useJob", () => {
  test("starts a job and follows it to its result without polling", async () => {
    const { server, result, container, flush, change, unmount } = await renderHook({
      task: "render",
    });
    assert.equal(result.current.status, "idle");
    assert.equal(result.current.isActive, false);

    let submitted;
    await act(async () => {
      submitted = await result.current.start({ prompt: "a lighthouse" });
    });
    await flush();
    assert.equal(result.current.jobId, submitted.jobId);
    assert.equal(result.current.status, "queued");
    assert.equal(result.current.isActive, true);
    assert.equal(JSON.parse(server.requests[0].body).task, "render");

    const { jobId } = submitted;
    await change(jobId, {
      status: "processing",
      progress: { current: 5, total: 20, message: "denoising" },
    });
    assert.equal(result.current.status, "processing");
    assert.equal(result.current.percent, 25);
    assert.equal(result.current.progress.message, "denoising");
    assert.equal(container.textContent, "processing");

    await change(jobId, { status: "completed", result: { image: "data:image/png;base64,AA==" } });
    assert.equal(result.current.status, "completed");
    assert.equal(result.current.percent, 100);
    assert.deepEqual(result.current.result, { image: "data:image/png;base64,AA==" });
    assert.equal(result.current.error, null);
    assert.equal(result.current.isActive, false);
    assert.equal(server.sources.at(-1).readyState, 2, "the stream is closed at the end");
    const sent = server.requests.map((r) => `${r.method} ${r.url.search}`);
    assert.deepEqual(sent, ["POST ", "GET "], "the submit and one read beside the stream");
    await unmount();
  });

  test("exposes a failure's error text", async () => {
    const { result, flush, change, unmount } = await renderHook();
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    await change(result.current.jobId, { status: "failed", error: "GPU on fire" });
    assert.equal(result.current.status, "failed");
    assert.equal(result.current.error, "GPU on fire");
    assert.equal(result.current.result, null);
    await unmount();
  });

  test("a rejected submit shows the server's error", async () => {
    const { result, unmount } = await renderHook();
    await act(async () => {
      assert.equal(await result.current.start(null), null, "no rejection to catch");
    });
    assert.equal(result.current.status, "error");
    assert.equal(result.current.error, "Payload required");
    assert.equal(result.current.requestError.status, 400);
    await unmount();
  });

  test("cancel, then retry follows the job again", async () => {
    const { result, flush, change, unmount } = await renderHook();
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    await act(() => result.current.cancel());
    await flush();
    assert.equal(result.current.status, "cancelled");
    assert.equal(result.current.error, "Cancelled");

    await act(() => result.current.retry());
    await flush();
    assert.equal(result.current.status, "queued");
    assert.equal(result.current.error, null);
    await change(result.current.jobId, { status: "completed", result: 42 });
    assert.equal(result.current.status, "completed");
    assert.equal(result.current.result, 42);
    await unmount();
  });

  test("cancelling a finished job resolves null and shows the server's answer", async () => {
    const { result, flush, change, unmount } = await renderHook();
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    await change(result.current.jobId, { status: "completed", result: 1 });
    let answer;
    await act(async () => {
      answer = await result.current.cancel();
    });
    assert.equal(answer, null);
    assert.equal(result.current.requestError.status, 409);
    assert.equal(result.current.error, "Job is already completed");
    assert.equal(result.current.status, "completed");
    await unmount();
  });

  test("follows an existing job given by id", async () => {
    const { result, flush, unmount } = await renderHook({ jobId: "job-7" }, (server) =>
      server.add({ jobId: "job-7", status: "processing", version: 4 }),
    );
    await flush();
    assert.equal(result.current.status, "processing");
    assert.equal(result.current.job.version, 4);
    await unmount();
  });

  test("a job that disappears while followed is an error", async () => {
    const { server, result, flush, unmount } = await renderHook({ transport: "longpoll" });
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    await act(async () => {
      server.remove(result.current.jobId);
      await settle();
    });
    assert.equal(result.current.requestError.status, 404);
    assert.equal(result.current.error, "Job not found");
    await unmount();
  });

  test("shows a lost connection and clears it when the server answers again", async () => {
    const { server, timers, result, flush, unmount } = await renderHook({ transport: "poll" });
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    server.down = true;
    await act(async () => {
      timers.fire();
      await settle();
    });
    assert.equal(result.current.connectionError.status, 0);
    assert.equal(result.current.status, "queued", "the job is still shown");
    server.down = false;
    await act(async () => {
      timers.fire();
      await settle();
    });
    assert.equal(result.current.connectionError, null);
    await unmount();
  });

  test("unmounting stops following", async () => {
    const { server, result, flush, unmount } = await renderHook();
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    const renders = result.renders;
    await unmount();
    assert.equal(server.sources.at(-1).readyState, 2);
    server.update(result.current.jobId, { status: "processing" });
    await settle();
    assert.equal(result.renders, renders);
    assert.equal(server.listeners.size, 0);
  });

  test("StrictMode's double effects leave exactly one stream open", async () => {
    const { server, result, flush, change, unmount } = await renderHook({}, () => {}, {
      strict: true,
    });
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    assert.equal(server.listeners.size, 1);
    await change(result.current.jobId, { status: "completed", result: "ok" });
    assert.equal(result.current.result, "ok");
    assert.equal(server.listeners.size, 0);
    await unmount();
  });

  test("reset forgets the job and stops following it", async () => {
    const { server, result, flush, unmount } = await renderHook();
    await act(() => result.current.start({ prompt: "x" }));
    await flush();
    assert.equal(server.listeners.size, 1);
    await act(async () => result.current.reset());
    assert.equal(result.current.status, "idle");
    assert.equal(result.current.jobId, null);
    assert.equal(server.listeners.size, 0);
    await unmount();
  });
});

/** Render `useHook(client)` and keep its latest value; the fake server behind the client. */
async function renderAny(useHook, serverSetup = () => {}) {
  const server = new FakeServer();
  serverSetup(server);
  const client = createClient({ fetch: server.fetch, EventSource: server.EventSource });
  const result = { current: null };
  function Probe() {
    result.current = useHook(client);
    return null;
  }
  const root = createRoot(document.createElement("div"));
  await act(async () => root.render(React.createElement(Probe)));
  await act(() => settle());
  return {
    server,
    result,
    unmount: () => act(async () => root.unmount()),
    change: changeOn(server),
  };
}

describe("useJobs and useTaggedJobs", () => {
  test("useJobs follows every listed job over one stream, in the order listed", async () => {
    const ids = ["a", "b", "c"];
    const { server, result, change, unmount } = await renderAny(
      (client) => useJobs(ids, { client }),
      (s) => ids.forEach((jobId) => s.add({ jobId })),
    );
    assert.deepEqual(
      result.current.jobs.map((job) => job.jobId),
      ids,
    );
    assert.equal(server.sources.length, 1);
    assert.equal(result.current.isActive, true);
    for (const jobId of ids) await change(jobId, { status: "completed" });
    assert.deepEqual(
      result.current.jobs.map((job) => job.status),
      ["completed", "completed", "completed"],
    );
    assert.equal(result.current.byId.b.status, "completed");
    assert.equal(result.current.isActive, false);
    await unmount();
  });

  test("useJobs reports a job that does not exist", async () => {
    const { result, unmount } = await renderAny((client) => useJobs(["nope"], { client }));
    assert.deepEqual(result.current.jobs, []);
    assert.equal(result.current.errors.nope.status, 404);
    assert.equal(result.current.isActive, false);
    await unmount();
  });

  test("useTaggedJobs shows the tag's jobs and those submitted later", async () => {
    const { server, result, unmount } = await renderAny(
      (client) => useTaggedJobs("batch", { client }),
      (s) => s.add({ jobId: "early", tags: ["batch"] }),
    );
    assert.deepEqual(
      result.current.jobs.map((job) => job.jobId),
      ["early"],
    );
    await act(async () => {
      server.add({ jobId: "later", tags: ["batch"] });
      server.update("later", { status: "processing" });
      await settle();
    });
    assert.deepEqual(
      result.current.jobs.map((job) => `${job.jobId}:${job.status}`),
      ["early:queued", "later:processing"],
    );
    await unmount();
    assert.equal(server.sources[0].readyState, 2);
  });
});
