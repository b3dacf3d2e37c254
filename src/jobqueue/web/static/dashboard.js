// The dashboard: totals, the filtered and paged job list kept up to date, workers and tasks,
// and a live detail panel. It talks to the server only through the public API (jobqueue.js).
// The list is polled as summaries (no results) with ETags, so an idle dashboard moves little.
// When the server wants an API key, the dashboard asks for one and keeps it in this tab's
// session storage; it goes out only in the Authorization header, never in a URL.

import { createClient } from "./jobqueue.js";
import { DetailPanel } from "./detail.js";
import {
  formatDuration,
  formatRelative,
  formatTimestamp,
  h,
  percentOf,
  progressBar,
  runTime,
  setText,
  STATUS_LABELS,
  updateProgress,
} from "./ui.js";

const STATUSES = ["queued", "processing", "completed", "failed", "cancelled"];
const REFRESH_SECONDS = 2;
const MAX_BACKOFF_SECONDS = 30;
const KEY_STORAGE = "jobqueue.apiKey";

const client = createClient({ apiKey: () => sessionStorage.getItem(KEY_STORAGE) });
const params = new URLSearchParams(location.search);
const state = {
  status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
  task: params.get("task") ?? "",
  tag: params.get("tag") ?? "",
  limit: Number(params.get("limit")) || 20,
  cursors: [null],
  page: 0,
  nextCursor: null,
  live: true,
  failures: 0,
  updatedAt: null,
  timer: null,
  inFlight: null,
  // Why the server refused us (401 or 403); polling waits for another key meanwhile.
  refusal: null,
};

const $ = (id) => document.getElementById(id);
const tiles = $("tiles");
const rows = $("rows");
const statusFilter = $("status-filter");
const taskFilter = $("task-filter");
const tagFilter = $("tag-filter");
const limitSelect = $("limit");
const connection = $("connection");
const updated = $("updated");
const liveButton = $("live");
const keyForm = $("key-form");
const keyInput = $("api-key");
const rowsById = new Map();

const detail = new DetailPanel(client, {
  // The followed job changed: show it in its row now; a new status refreshes the totals too.
  onChange: (job) => {
    const before = rowsById.get(job.jobId)?.job?.status;
    renderRow(job);
    if (before !== undefined && before !== job.status && !state.inFlight) refresh();
  },
  onClose: () => {
    markSelected(null);
    saveLocation();
  },
});

function saveLocation() {
  const query = new URLSearchParams();
  if (state.status) query.set("status", state.status);
  if (state.task) query.set("task", state.task);
  if (state.tag) query.set("tag", state.tag);
  if (state.limit !== 20) query.set("limit", String(state.limit));
  if (detail.jobId) query.set("job", detail.jobId);
  const search = query.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

// Totals: one tile per status; a tile is also a shortcut for the status filter.
const tileCounts = new Map();
for (const status of STATUSES) {
  const count = h("span", { class: "tile-count" }, "–");
  tileCounts.set(status, count);
  tiles.append(
    h(
      "button",
      {
        class: "tile card",
        type: "button",
        dataset: { status },
        "aria-pressed": "false",
        onclick: () => setFilters({ status: state.status === status ? "" : status }),
      },
      h("span", { class: "tile-label" }, STATUS_LABELS[status]),
      count,
    ),
  );
}

function renderStats(stats) {
  for (const status of STATUSES)
    setText(tileCounts.get(status), String(stats.totals?.[status] ?? 0));
  for (const tile of tiles.children) {
    tile.setAttribute("aria-pressed", String(tile.dataset.status === state.status));
  }
  const tasks = Object.keys(stats.tasks ?? {}).sort();
  const known = [...taskFilter.options].map((option) => option.value).filter(Boolean);
  if (state.task && !tasks.includes(state.task)) tasks.push(state.task);
  if (tasks.join() !== known.join()) {
    taskFilter.replaceChildren(
      h("option", { value: "" }, "All tasks"),
      ...tasks.map((task) => h("option", { value: task }, task)),
    );
    taskFilter.value = state.task;
  }
  $("task-rows").replaceChildren(
    ...(tasks.length === 0
      ? [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No jobs yet."))]
      : tasks.map((task) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, h("code", {}, task)),
            ...STATUSES.map((status) =>
              h("td", { class: "num" }, String(stats.tasks[task]?.[status] ?? 0)),
            ),
            h("td", { class: "muted limits" }, describeLimits(stats.limits?.[task])),
          ),
        )),
  );
  const workers = stats.workers ?? [];
  $("workers").replaceChildren(
    ...(workers.length === 0
      ? [h("li", { class: "muted" }, "No worker has checked in yet.")]
      : workers.map((worker) => {
          const stale = Date.now() - Date.parse(worker.lastSeenAt) > 60_000;
          return h(
            "li",
            { class: stale ? "worker stale" : "worker" },
            h("span", { class: "worker-dot", "aria-hidden": "true" }),
            h("code", { class: "worker-id", title: worker.id }, worker.id),
            h(
              "span",
              { class: "muted" },
              `${worker.running} running · seen ${formatRelative(worker.lastSeenAt)}`,
            ),
            (worker.tasks ?? []).length
              ? h("span", { class: "muted worker-tasks" }, `serves ${worker.tasks.join(", ")}`)
              : null,
          );
        })),
  );
  const busy = keysAtTheirLimit(stats);
  $("busy-keys").replaceChildren(
    ...(busy.length === 0
      ? [h("li", { class: "muted" }, "No concurrency key is at its limit.")]
      : busy.map(({ task, key, running, limit }) =>
          h(
            "li",
            { class: "worker" },
            h("code", {}, key),
            h("span", { class: "muted" }, `${task}: ${running} of ${limit} running`),
          ),
        )),
  );
}

const LIMIT_LABELS = {
  concurrency: "per worker",
  globalConcurrency: "in all",
  keyConcurrency: "per key",
  cost: "cost",
  maxQueued: "queued at most",
};

/** A task's limits in words: "per key 2 · cost 4"; an empty string when it sets none. */
function describeLimits(limits) {
  return Object.entries(limits ?? {})
    .map(([name, value]) => `${LIMIT_LABELS[name] ?? name} ${value}`)
    .join(" · ");
}

/** The concurrency keys whose running jobs have reached their task's key_concurrency. */
function keysAtTheirLimit(stats) {
  const busy = [];
  for (const [task, keys] of Object.entries(stats.runningKeys ?? {})) {
    const limit = stats.limits?.[task]?.keyConcurrency;
    if (limit === undefined) continue;
    for (const [key, running] of Object.entries(keys)) {
      if (running >= limit) busy.push({ task, key, running, limit });
    }
  }
  return busy;
}

function shortId(jobId) {
  return jobId.length > 13 ? `${jobId.slice(0, 8)}…` : jobId;
}

/** Create or update the row of one job; the row element is kept, so focus survives updates. */
function renderRow(job) {
  let row = rowsById.get(job.jobId);
  if (!row) {
    // The button makes the row reachable by keyboard; its click bubbles up to the row's.
    const open = h(
      "button",
      {
        class: "row-link mono",
        type: "button",
        title: `Show job ${job.jobId}`,
      },
      shortId(job.jobId),
    );
    row = h(
      "tr",
      { dataset: { jobId: job.jobId }, onclick: () => select(job.jobId) },
      h("td", {}, open),
      h("td", {}, h("code", {}, job.task)),
      h("td", {}, h("span", { class: "badge" })),
      h(
        "td",
        { class: "col-progress" },
        h(
          "div",
          { class: "row-progress" },
          progressBar(`Progress of job ${job.jobId}`),
          h("span", { class: "pct" }),
        ),
      ),
      h("td", { class: "num" }),
      h("td", {}),
      h("td", { class: "num" }),
    );
    rowsById.set(job.jobId, row);
  }
  if (row.job && row.job.version > job.version) return row;
  row.job = job;
  row.dataset.status = job.status;
  const [, , statusCell, progressCell, attemptsCell, createdCell, runCell] = row.children;
  const badge = statusCell.firstChild;
  badge.dataset.status = job.status;
  setText(
    badge,
    job.status === "processing" && job.cancelRequested ? "Cancelling…" : STATUS_LABELS[job.status],
  );
  updateProgress(progressCell.querySelector(".progress"), job);
  const percent = percentOf(job);
  setText(progressCell.querySelector(".pct"), percent === null ? "" : `${Math.round(percent)}%`);
  setText(attemptsCell, `${job.attempts}/${job.maxAttempts}`);
  setText(createdCell, formatRelative(job.createdAt));
  createdCell.title = job.createdAt;
  renderRunCell(runCell, job);
  return row;
}

/** How long the job ran; for a queued job due later, when it starts. */
function renderRunCell(cell, job) {
  const took = runTime(job);
  const startsLater = job.runAt !== null && Date.parse(job.runAt) > Date.now();
  if (took === null && startsLater) {
    setText(cell, `starts ${formatRelative(job.runAt)}`);
    cell.title = `Starts at ${formatTimestamp(job.runAt)}`;
  } else {
    setText(cell, took === null ? "—" : formatDuration(took));
    cell.removeAttribute("title");
  }
}

function renderList(page) {
  const wanted = page.jobs.map(renderRow);
  const keep = new Set(wanted);
  for (const [jobId, row] of rowsById) {
    if (!keep.has(row)) {
      row.remove();
      rowsById.delete(jobId);
    }
  }
  // Insert in order without moving rows that are already in place.
  wanted.forEach((row, index) => {
    if (rows.children[index] !== row) rows.insertBefore(row, rows.children[index] ?? null);
  });
  markSelected(detail.jobId);
  $("no-jobs").hidden = wanted.length > 0;
  state.nextCursor = page.nextCursor;
  $("older").disabled = !page.nextCursor;
  $("newer").disabled = state.page === 0;
  setText($("page-label"), `Page ${state.page + 1}`);
}

function markSelected(jobId) {
  for (const [id, row] of rowsById) {
    if (id === jobId) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
}

function select(jobId) {
  detail.show(jobId);
  markSelected(jobId);
  saveLocation();
}

/** Fetch the current page and the totals, then schedule the next refresh. */
async function refresh() {
  clearTimeout(state.timer);
  state.timer = null;
  state.inFlight?.abort();
  const controller = new AbortController();
  state.inFlight = controller;
  const { signal } = controller;
  let delay = REFRESH_SECONDS;
  try {
    const [page, stats] = await Promise.all([
      client.list({
        status: state.status || undefined,
        task: state.task || undefined,
        tag: state.tag || undefined,
        limit: state.limit,
        cursor: state.cursors[state.page],
        fields: "summary",
        signal,
      }),
      client.stats({ signal }),
    ]);
    state.failures = 0;
    state.updatedAt = Date.now();
    connection.hidden = true;
    renderStats(stats);
    renderList(page);
  } catch (error) {
    if (signal.aborted) return;
    if (error.status === 401 || error.status === 403) return askForKey(error);
    state.failures += 1;
    delay = Math.max(error.retryAfter ?? 0, Math.min(MAX_BACKOFF_SECONDS, 2 ** state.failures));
    setText(
      connection,
      error.status === 0
        ? `Cannot reach the server. Trying again in ${Math.round(delay)} s.`
        : `The server answered: ${error.message}. Trying again in ${Math.round(delay)} s.`,
    );
    connection.hidden = false;
  } finally {
    if (state.inFlight === controller) state.inFlight = null;
  }
  renderUpdated();
  schedule(delay);
}

function schedule(seconds) {
  clearTimeout(state.timer);
  state.timer = null;
  if (state.live && !state.refusal && document.visibilityState === "visible") {
    state.timer = setTimeout(refresh, seconds * 1000);
  }
}

function refusalText(error) {
  const said = error.message.replace(/\.$/, "");
  if (error.status === 403) return `This key may not read the dashboard: ${said}.`;
  if (sessionStorage.getItem(KEY_STORAGE)) return `The server refused the key: ${said}.`;
  return "This server needs an API key.";
}

/** The server refused the request (401 or 403): stop polling, say why and ask for a key. */
function askForKey(error) {
  state.refusal = error;
  setText($("key-reason"), `${refusalText(error)} Updates are paused until you enter a key.`);
  connection.hidden = true;
  keyForm.hidden = false;
  keyInput.focus();
  renderUpdated();
}

keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyInput.value = "";
  keyForm.hidden = true;
  state.refusal = null;
  state.failures = 0;
  detail.restart();
  refresh();
});

function renderUpdated() {
  if (state.refusal) return setText(updated, "Paused: API key needed");
  if (!state.live) return setText(updated, "Paused");
  if (state.updatedAt === null) return setText(updated, "Connecting…");
  setText(updated, `Updated ${formatRelative(new Date(state.updatedAt).toISOString())}`);
}

function setFilters(changes) {
  Object.assign(state, changes, { cursors: [null], page: 0 });
  statusFilter.value = state.status;
  taskFilter.value = state.task;
  tagFilter.value = state.tag;
  limitSelect.value = String(state.limit);
  saveLocation();
  refresh();
}

statusFilter.addEventListener("change", () => setFilters({ status: statusFilter.value }));
taskFilter.addEventListener("change", () => setFilters({ task: taskFilter.value }));
// A tag is applied once it is whole (Enter, or leaving the field) and well-formed.
tagFilter.addEventListener("change", () => {
  if (tagFilter.checkValidity()) setFilters({ tag: tagFilter.value.trim() });
});
limitSelect.addEventListener("change", () => setFilters({ limit: Number(limitSelect.value) }));
$("filters").addEventListener("submit", (event) => event.preventDefault());

$("older").addEventListener("click", () => {
  if (!state.nextCursor) return;
  state.cursors[state.page + 1] = state.nextCursor;
  state.page += 1;
  refresh();
});

$("newer").addEventListener("click", () => {
  if (state.page === 0) return;
  state.page -= 1;
  refresh();
});

liveButton.addEventListener("click", () => {
  state.live = !state.live;
  liveButton.setAttribute("aria-pressed", String(state.live));
  if (state.live && !state.refusal) refresh();
  else schedule(0);
  renderUpdated();
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.live && !state.refusal) refresh();
});

// The "updated … ago" label and relative times age without a request.
setInterval(() => {
  renderUpdated();
  for (const row of rowsById.values()) {
    if (row.job) setText(row.children[5], formatRelative(row.job.createdAt));
    if (row.job?.status === "processing" || row.job?.runAt) renderRow(row.job);
  }
}, 1000);

statusFilter.value = state.status;
tagFilter.value = state.tag;
limitSelect.value = String(state.limit);
if (params.get("job")) select(params.get("job"));
refresh();
