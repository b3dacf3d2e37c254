// The dashboard's job detail panel: follows one job live and offers cancel and retry.

import { isTerminal } from "./jobqueue.js";
import {
  formatDuration,
  formatRelative,
  formatTimestamp,
  h,
  progressBar,
  runTime,
  startsIn,
  STATUS_LABELS,
  updateProgress,
} from "./ui.js";

const IMAGE_PREFIX = "data:image/";

/** The result as JSON, with long data URLs shortened so the rest stays readable. */
function resultText(result) {
  return JSON.stringify(
    result,
    (_key, value) =>
      typeof value === "string" && value.length > 120
        ? `${value.slice(0, 60)}… (${value.length} chars)`
        : value,
    2,
  );
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function timeFact(label, iso) {
  if (!iso) return fact(label, "—");
  const relativeTime = h("span", { class: "muted" }, ` · ${formatRelative(iso)}`);
  return fact(label, h("time", { datetime: iso, title: iso }, formatTimestamp(iso), relativeTime));
}

function progressText(job) {
  const progress = job.progress;
  if (!progress) return isTerminal(job) ? "Finished." : "No progress reported yet.";
  const count = progress.total ? `${progress.current} / ${progress.total}` : `${progress.current}`;
  return `${progress.message ?? "Working"} · ${count}`;
}

function progressSection(job) {
  const bar = progressBar(`Progress of job ${job.jobId}`);
  updateProgress(bar, job);
  return h("div", { class: "detail-progress" }, bar, h("p", { class: "muted" }, progressText(job)));
}

/** "3 ahead · starts in ~12 s" for a waiting job, either part left out when unknown. */
function queueFact(job) {
  const position = job.queuePosition;
  const place =
    position === null || position === undefined
      ? ""
      : position === 0
        ? "next"
        : `${position} ahead`;
  const text = [place, startsIn(job.estimatedStartAt)].filter(Boolean).join(" · ");
  return text ? fact("In the queue", text) : [];
}

function factsList(job) {
  const took = runTime(job);
  return h(
    "dl",
    { class: "facts" },
    ...fact("Task", h("code", {}, job.task)),
    ...(job.tags?.length ? fact("Tags", job.tags.join(", ")) : []),
    ...fact("Attempts", `${job.attempts} of ${job.maxAttempts}`),
    ...fact("Run time", took === null ? "—" : formatDuration(took)),
    ...timeFact("Created", job.createdAt),
    ...(job.runAt ? timeFact("Starts", job.runAt) : []),
    ...queueFact(job),
    ...timeFact("Started", job.startedAt),
    ...timeFact("Finished", job.completedAt),
    ...timeFact("Expires", job.expiresAt),
    ...fact("Version", String(job.version)),
  );
}

function errorBlock(job) {
  if (!job.error) return null;
  // A queued job that carries an error is waiting to retry after a failed attempt.
  const title = job.status === "queued" ? "Last attempt's error" : "Error";
  return h(
    "div",
    { class: "detail-block" },
    h("h3", {}, title),
    h("pre", { class: "error-box" }, job.error),
  );
}

function resultBlock(job) {
  if (job.status !== "completed") return null;
  const image = job.result?.image;
  const preview =
    typeof image === "string" && image.startsWith(IMAGE_PREFIX)
      ? h("img", { class: "detail-image", src: image, alt: "The job's result image" })
      : null;
  const json = h("pre", { class: "result-box" }, resultText(job.result));
  return h("div", { class: "detail-block" }, h("h3", {}, "Result"), preview, json);
}

/**
 * The detail panel. `show(jobId)` follows a job; `onChange(job)` is told about every update
 * (so the list can show it at once) and `onClose()` when the panel is closed.
 */
export class DetailPanel {
  constructor(client, { onChange, onClose }) {
    this.client = client;
    this.onChange = onChange;
    this.onClose = onClose;
    this.jobId = null;
    this.job = null;
    this.unwatch = null;
    this.notice = "";
    this.empty = document.getElementById("detail-empty");
    this.body = document.getElementById("detail-body");
    this.content = h("div", { class: "detail-content" });
    this.actions = h("div", { class: "detail-actions" });
    this.actionsKey = null;
    this.closeButton = document.getElementById("close-detail");
    this.closeButton.addEventListener("click", () => this.close());
  }

  show(jobId) {
    if (jobId === this.jobId) return;
    this.unwatch?.();
    this.jobId = jobId;
    this.job = null;
    this.notice = "";
    this.empty.hidden = true;
    this.body.hidden = false;
    this.closeButton.hidden = false;
    this.body.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    this.follow();
  }

  follow() {
    const jobId = this.jobId;
    this.unwatch = this.client.watch(jobId, (job) => this.update(job), {
      onError: (error, { willRetry }) => {
        if (this.jobId !== jobId) return;
        this.notice = willRetry ? `Connection trouble: ${error.message}. Retrying…` : error.message;
        this.render();
      },
      onReconnect: () => {
        this.notice = "";
        this.render();
      },
    });
  }

  /** Follow the shown job again from the start (after the API key changed). */
  restart() {
    if (this.jobId === null) return;
    this.unwatch?.();
    this.notice = "";
    this.follow();
  }

  close() {
    this.unwatch?.();
    this.unwatch = null;
    this.jobId = null;
    this.job = null;
    this.body.hidden = true;
    this.body.replaceChildren();
    this.empty.hidden = false;
    this.closeButton.hidden = true;
    this.onClose();
  }

  update(job) {
    if (job.jobId !== this.jobId) return;
    this.job = job;
    this.notice = "";
    this.render();
    this.onChange(job);
  }

  async act(action, verb) {
    try {
      const job = await action(this.jobId);
      if (job.jobId === this.jobId && job.version >= (this.job?.version ?? 0)) this.update(job);
      // A retried job starts a new life: follow it again from its new version.
      if (verb === "retry" && !isTerminal(job)) {
        this.unwatch?.();
        this.follow();
      }
    } catch (error) {
      if (error.job) this.update(error.job);
      this.notice = `Could not ${verb}: ${error.message}`;
      this.render();
    }
  }

  /** The action buttons; rebuilt only when they change, so a click is never lost. */
  renderActions(job, stopping) {
    const key = `${job.jobId} ${job.status} ${stopping}`;
    if (key === this.actionsKey) return;
    this.actionsKey = key;
    const focused = this.actions.contains(document.activeElement)
      ? document.activeElement.dataset.action
      : null;
    const button = (action, label, className, disabled = false) =>
      h(
        "button",
        { class: `button small ${className}`, type: "button", "data-action": action, disabled },
        label,
      );
    const buttons = [];
    if (!isTerminal(job)) {
      const cancel = button("cancel", stopping ? "Cancelling…" : "Cancel job", "danger", stopping);
      cancel.addEventListener("click", () => this.act(this.client.cancel, "cancel"));
      buttons.push(cancel);
    }
    if (job.status === "failed" || job.status === "cancelled") {
      const retry = button("retry", "Retry job", "");
      retry.addEventListener("click", () => this.act(this.client.retry, "retry"));
      buttons.push(retry);
    }
    const href = this.client.url(`/${encodeURIComponent(job.jobId)}`);
    const raw = { class: "button small ghost", href, target: "_blank", rel: "noopener" };
    buttons.push(h("a", raw, "Raw JSON"));
    this.actions.replaceChildren(...buttons);
    if (focused) this.actions.querySelector(`[data-action="${focused}"]`)?.focus();
  }

  render() {
    const job = this.job;
    if (!job) {
      this.actionsKey = null;
      this.body.replaceChildren(
        h("p", { class: this.notice ? "detail-notice" : "muted" }, this.notice || "Loading…"),
      );
      return;
    }
    // Progress re-renders the facts several times a second; the buttons stay put.
    if (!this.body.contains(this.actions)) {
      this.actionsKey = null;
      this.body.replaceChildren(this.content, this.actions);
    }
    const stopping = job.status === "processing" && job.cancelRequested;
    const label = stopping ? "Cancelling…" : (STATUS_LABELS[job.status] ?? job.status);
    const parts = [
      h(
        "div",
        { class: "detail-title" },
        h("span", { class: "badge", dataset: { status: job.status } }, label),
        h("code", { class: "detail-id", title: job.jobId }, job.jobId),
      ),
      this.notice ? h("p", { class: "detail-notice", role: "status" }, this.notice) : null,
      progressSection(job),
      factsList(job),
      errorBlock(job),
      resultBlock(job),
    ];
    this.content.replaceChildren(...parts.filter(Boolean));
    this.renderActions(job, stopping);
  }
}
