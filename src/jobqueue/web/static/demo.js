// The demo page: each prompt is submitted as a job and shown as a card that follows it live.
// Cards are remembered in localStorage, so a reload picks the running jobs up again.

import { createClient, isTerminal } from "./jobqueue.js";
import {
  formatDuration,
  h,
  progressBar,
  runTime,
  setText,
  startsIn,
  STATUS_LABELS,
  updateProgress,
} from "./ui.js";

const STORAGE_KEY = "jobqueue-demo:jobs";
const MAX_REMEMBERED = 24;

const client = createClient();
const cards = new Map();
const troubled = new Set();

const form = document.getElementById("prompt-form");
const promptInput = document.getElementById("prompt");
const sizeSelect = document.getElementById("size");
const generateButton = document.getElementById("generate");
const formError = document.getElementById("form-error");
const list = document.getElementById("jobs");
const empty = document.getElementById("empty");
const connection = document.getElementById("connection");
const clearFinished = document.getElementById("clear-finished");
const announcer = document.getElementById("announcer");

/** The node a local `$ref` ("#/components/schemas/…") points to, or the schema itself. */
function resolve(document, schema) {
  const ref = schema?.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return schema;
  const keys = ref.slice(2).split("/");
  return keys.reduce(
    (node, key) => node?.[key.replaceAll("~1", "/").replaceAll("~0", "~")],
    document,
  );
}

/** The longest prompt the submit body's schema allows (in /openapi.json), or null. */
function promptLimit(document) {
  const operation = document?.paths?.[client.url("")]?.post;
  const body = resolve(document, operation?.requestBody?.content?.["application/json"]?.schema);
  for (const variant of body?.anyOf ?? body?.oneOf ?? [body]) {
    const payload = resolve(document, resolve(document, variant)?.properties?.payload);
    const limit = resolve(document, payload?.properties?.prompt)?.maxLength;
    if (Number.isInteger(limit)) return limit;
  }
  return null;
}

/** Give the prompt field the server's own length limit, read from its OpenAPI document. */
async function applyPromptLimit() {
  try {
    const response = await fetch("/openapi.json");
    const limit = response.ok ? promptLimit(await response.json()) : null;
    if (limit !== null) promptInput.maxLength = limit;
  } catch {
    // Without the document the field has no limit; the server still checks the length.
  }
}

/**
 * What a waiting job says about its place in the queue (`queuePosition`: jobs ahead) and,
 * when the server can tell, when it should start: "3 ahead of you · starts in ~12 s".
 */
function waitingMessage(job) {
  const position = job.queuePosition;
  const starts = startsIn(job.estimatedStartAt);
  if (position === null || position === undefined) {
    return starts ? `Waiting for a worker · ${starts}` : "Waiting for a worker…";
  }
  const place = position === 0 ? "Next in line" : `${position} ahead of you`;
  if (starts) return `${place} · ${starts}`;
  return position === 0 ? "Next in line…" : `${place} in the queue…`;
}

function announce(text) {
  announcer.textContent = text;
}

function remember() {
  const entries = [...cards.values()].map((card) => card.entry).slice(0, MAX_REMEMBERED);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(entries));
  } catch {
    // Private browsing or a full quota: the page works, it just forgets on reload.
  }
}

function remembered() {
  try {
    const entries = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "[]");
    return Array.isArray(entries) ? entries.filter((entry) => entry?.jobId) : [];
  } catch {
    return [];
  }
}

function refreshChrome() {
  empty.hidden = cards.size > 0;
  clearFinished.hidden = ![...cards.values()].some((card) => card.finished);
  connection.hidden = troubled.size === 0;
}

/** One job's card: it renders every update the watch delivers. */
class JobCard {
  constructor(entry, { restored = false } = {}) {
    this.entry = entry;
    this.restored = restored;
    this.job = null;
    this.finished = false;
    const [width, height] = [entry.width ?? 384, entry.height ?? 384];
    const titleId = `job-${entry.jobId}-title`;

    this.badge = h("span", { class: "badge", dataset: { status: "queued" } }, "Queued");
    this.elapsed = h("span", { class: "elapsed" });
    this.progress = progressBar(`Progress of “${entry.prompt}”`);
    this.message = h("p", { class: "job-message" }, "Waiting for a worker…");
    this.errorSummary = h("p", { class: "job-error-text" });
    this.errorDetail = h("pre", { class: "job-error-detail" });
    this.errorMore = h("details", {}, h("summary", {}, "Details"), this.errorDetail);
    this.error = h("div", { class: "job-error", hidden: true }, this.errorSummary, this.errorMore);
    this.image = h("img", {
      class: "job-image",
      alt: `Generated picture: ${entry.prompt}`,
      hidden: true,
    });
    this.placeholderText = h("span", { class: "placeholder-text" }, "Queued");
    this.placeholder = h("div", { class: "placeholder" }, this.placeholderText);
    this.cancelButton = h("button", { class: "button small danger", type: "button" }, "Cancel");
    this.retryButton = h(
      "button",
      { class: "button small", type: "button", hidden: true },
      "Run again",
    );
    this.download = h("a", { class: "button small", hidden: true, download: "" }, "Download");
    this.dismissButton = h(
      "button",
      {
        class: "button small ghost",
        type: "button",
        hidden: true,
        "aria-label": `Remove “${entry.prompt}”`,
      },
      "Remove",
    );
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.retryButton.addEventListener("click", () => this.retry());
    this.dismissButton.addEventListener("click", () => this.remove());

    this.element = h(
      "li",
      {
        class: "job card",
        dataset: { status: "queued", jobId: entry.jobId },
        "aria-labelledby": titleId,
      },
      h(
        "div",
        { class: "preview", style: `aspect-ratio: ${width} / ${height}` },
        this.placeholder,
        this.image,
      ),
      h(
        "div",
        { class: "job-body" },
        h("div", { class: "job-head" }, this.badge, this.elapsed),
        h("h3", { class: "job-prompt", id: titleId }, entry.prompt),
        this.progress,
        this.message,
        this.error,
        h(
          "div",
          { class: "job-actions" },
          this.cancelButton,
          this.retryButton,
          this.download,
          this.dismissButton,
        ),
      ),
    );
  }

  follow() {
    this.unwatch?.();
    this.unwatch = client.watch(this.entry.jobId, (job) => this.render(job), {
      onError: (error, { willRetry }) => {
        if (willRetry) {
          troubled.add(this);
        } else if (error.status === 404 && this.restored) {
          // A remembered job the server has since deleted (its TTL ran out).
          this.remove();
        } else {
          troubled.delete(this);
          this.showError(error.message);
        }
        refreshChrome();
      },
      onReconnect: () => {
        troubled.delete(this);
        refreshChrome();
      },
    });
  }

  render(job) {
    // An action's answer can arrive after the stream already delivered a newer state.
    if (this.job && job.version < this.job.version) return;
    const previous = this.job?.status;
    this.job = job;
    this.finished = isTerminal(job);
    troubled.delete(this);
    const stopping = job.status === "processing" && job.cancelRequested;
    const label = stopping ? "Cancelling…" : (STATUS_LABELS[job.status] ?? job.status);
    this.element.dataset.status = job.status;
    this.badge.dataset.status = job.status;
    setText(this.badge, label);
    updateProgress(this.progress, job);
    setText(this.message, this.messageFor(job));
    setText(this.placeholderText, job.status === "processing" ? "Painting…" : label);
    this.cancelButton.hidden = this.finished;
    this.cancelButton.disabled = stopping;
    this.retryButton.hidden = !(job.status === "failed" || job.status === "cancelled");
    this.dismissButton.hidden = !this.finished;

    if (job.status === "failed" || job.status === "cancelled") {
      this.showError(job.error ?? (job.status === "cancelled" ? "Cancelled." : "The job failed."));
    } else {
      this.error.hidden = true;
    }
    const image = job.status === "completed" ? job.result?.image : null;
    if (typeof image === "string") {
      if (this.image.getAttribute("src") !== image) this.image.src = image;
      this.image.hidden = false;
      this.placeholder.hidden = true;
      this.download.href = image;
      this.download.setAttribute("download", `jobqueue-${job.result.seed ?? job.jobId}.png`);
      this.download.hidden = false;
    } else {
      this.image.hidden = true;
      this.placeholder.hidden = false;
      this.download.hidden = true;
    }
    this.tick();
    if (previous && previous !== job.status) {
      announce(`“${this.entry.prompt}”: ${label}`);
    }
    refreshChrome();
  }

  messageFor(job) {
    const message = job.progress?.message;
    switch (job.status) {
      case "queued":
        if (job.attempts > 0 && job.error) {
          return `Attempt ${job.attempts} failed; it will run again shortly.`;
        }
        return waitingMessage(job);
      case "processing":
        return message ?? "Starting…";
      case "completed": {
        const took = runTime(job);
        const result = job.result ?? {};
        const size = result.width && result.height ? `${result.width}×${result.height}` : "";
        const parts = [took === null ? "" : `Done in ${formatDuration(took)}`, size];
        if (result.seed !== undefined) parts.push(`seed ${result.seed}`);
        return parts.filter(Boolean).join(" · ");
      }
      case "cancelled":
        return message ? `Stopped at: ${message}` : "Stopped before it started.";
      default:
        return message ? `Stopped at: ${message}` : "";
    }
  }

  /** Refresh the running clock of an active job, or the countdown of a waiting one. */
  tick() {
    const job = this.job;
    if (!job) return;
    if (job.status === "queued") setText(this.message, this.messageFor(job));
    const took = runTime(job);
    if (job.status === "processing" && took !== null) setText(this.elapsed, formatDuration(took));
    else if (job.status === "completed" && took !== null)
      setText(this.elapsed, formatDuration(took));
    else setText(this.elapsed, "");
  }

  /** Show the first line of an error; a longer one (a traceback) folds out under "Details". */
  showError(text) {
    const [first, ...rest] = text.trim().split("\n");
    setText(this.errorSummary, first);
    setText(this.errorDetail, text);
    this.errorMore.hidden = rest.length === 0;
    this.error.hidden = false;
  }

  async cancel() {
    this.cancelButton.disabled = true;
    try {
      this.render(await client.cancel(this.entry.jobId));
    } catch (error) {
      if (error.job) this.render(error.job);
      else this.showError(`Could not cancel: ${error.message}`);
      this.cancelButton.disabled = false;
    }
  }

  async retry() {
    this.retryButton.disabled = true;
    try {
      this.render(await client.retry(this.entry.jobId));
      this.follow();
    } catch (error) {
      this.showError(`Could not run it again: ${error.message}`);
    } finally {
      this.retryButton.disabled = false;
    }
  }

  remove() {
    this.unwatch?.();
    troubled.delete(this);
    const next = this.element.nextElementSibling ?? this.element.previousElementSibling;
    const hadFocus = this.element.contains(document.activeElement);
    this.element.remove();
    cards.delete(this.entry.jobId);
    remember();
    refreshChrome();
    if (hadFocus) (next?.querySelector("button:not([hidden])") ?? promptInput).focus();
  }
}

function addCard(entry, options) {
  const card = new JobCard(entry, options);
  cards.set(entry.jobId, card);
  return card;
}

async function submitPrompt(prompt) {
  const [width, height] = sizeSelect.value.split("x").map(Number);
  formError.hidden = true;
  generateButton.disabled = true;
  try {
    const job = await client.submit(null, { prompt, width, height });
    const card = addCard({ jobId: job.jobId, prompt, width, height });
    // Newest first: the card goes to the top of the list.
    list.prepend(card.element);
    card.render(job);
    card.follow();
    remember();
    promptInput.value = "";
    announce(`Started “${prompt}”`);
  } catch (error) {
    const text =
      error.status === 0
        ? "Cannot reach the server. Is `jobqueue demo` still running? Try again in a moment."
        : `The server refused the job: ${error.message}`;
    setText(formError, text);
    formError.hidden = false;
  } finally {
    generateButton.disabled = false;
    promptInput.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = promptInput.value.trim();
  if (!prompt) {
    setText(formError, "Describe the picture you want first.");
    formError.hidden = false;
    promptInput.focus();
    return;
  }
  submitPrompt(prompt);
});

for (const chip of document.querySelectorAll(".chip")) {
  chip.addEventListener("click", () => {
    promptInput.value = chip.dataset.prompt;
    form.requestSubmit();
  });
}

clearFinished.addEventListener("click", () => {
  for (const card of [...cards.values()]) if (card.finished) card.remove();
  promptInput.focus();
});

// One clock refreshes the elapsed time of the running cards and the expected start of the
// waiting ones; it makes no request.
setInterval(() => {
  for (const card of cards.values()) {
    const job = card.job;
    if (job?.status === "processing" || (job?.status === "queued" && job.estimatedStartAt)) {
      card.tick();
    }
  }
}, 1000);

for (const entry of remembered()) {
  const card = addCard(entry, { restored: true });
  list.append(card.element);
  card.follow();
}
refreshChrome();
applyPromptLimit();
