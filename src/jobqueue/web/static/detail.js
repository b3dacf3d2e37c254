// The dashboard's job detail panel: follows one job live and offers cancel and retry.

import { isTerminal } from "./jobqueue.js";
import {
  formatDuration,
  formatRelative,
  formatTimestamp,
  h,
  progressBar,
  runTime,
  STATUS_LABELS,
  updateProgress,
} from "./ui.js";

const IMAGE_PREFIX = "data:image/";

/** The result as JSON, with long data URLs shortened so the rest stays readable. */
function resultText(result) {
  return JSON.stringify(
    result,
    (_key, value) =>
      typeof value === "string" && value.length > 120 ? `${value.slice(0, 60)}… (${value.length} chars)` : value,
    2,
  );
}

function timeRow(label, iso) {
  return [
    h("dt", {}, label),
    h("dd", {}, iso ? h("time", { datetime: iso, title: iso }, formatTimestamp(iso), h("span", { class: "muted" }, ` · ${formatRelative(iso)}`)) : "—"),
  ];
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

  render() {
    const job = this.job;
    if (!job) {
      this.body.replaceChildren(h("p", { class: this.notice ? "detail-notice" : "muted" }, this.notice || "Loading…"));
      return;
    }
    // Keep keyboard focus on the same action across re-renders.
    const focused = this.body.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const progress = progressBar(`Progress of job ${job.jobId}`);
    updateProgress(progress, job);
    const took = runTime(job);
    const stopping = job.status === "processing" && job.cancelRequested;
    const actions = h("div", { class: "detail-actions" });
    if (!isTerminal(job)) {
      actions.append(
        h(
          "button",
          {
            class: "button small danger",
            type: "button",
            "data-action": "cancel",
            disabled: stopping,
            onclick: () => this.act(this.client.cancel, "cancel"),
          },
          stopping ? "Cancelling…" : "Cancel job",
        ),
      );
    }
    if (job.status === "failed" || job.status === "cancelled") {
      actions.append(
        h(
          "button",
          { class: "button small", type: "button", "data-action": "retry", onclick: () => this.act(this.client.retry, "retry") },
          "Retry job",
        ),
      );
    }
    actions.append(h("a", { class: "button small ghost", href: this.client.url(`/${encodeURIComponent(job.jobId)}`), target: "_blank", rel: "noopener" }, "Raw JSON"));

    const image = job.status === "completed" && typeof job.result?.image === "string" && job.result.image.startsWith(IMAGE_PREFIX)
      ? h("img", { class: "detail-image", src: job.result.image, alt: "The job's result image" })
      : null;

    const parts = [
      h(
        "div",
        { class: "detail-title" },
        h("span", { class: "badge", dataset: { status: job.status } }, stopping ? "Cancelling…" : (STATUS_LABELS[job.status] ?? job.status)),
        h("code", { class: "detail-id", title: job.jobId }, job.jobId),
      ),
      this.notice ? h("p", { class: "detail-notice", role: "status" }, this.notice) : null,
      h(
        "div",
        { class: "detail-progress" },
        progress,
        h(
          "p",
          { class: "muted" },
          job.progress
            ? `${job.progress.message ?? "Working"} · ${job.progress.current}${job.progress.total ? ` / ${job.progress.total}` : ""}`
            : isTerminal(job)
              ? "Finished."
              : "No progress reported yet.",
        ),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Task"),
        h("dd", {}, h("code", {}, job.task)),
        h("dt", {}, "Attempts"),
        h("dd", {}, `${job.attempts} of ${job.maxAttempts}`),
        h("dt", {}, "Run time"),
        h("dd", {}, took === null ? "—" : formatDuration(took)),
        ...timeRow("Created", job.createdAt),
        ...timeRow("Started", job.startedAt),
        ...timeRow("Finished", job.completedAt),
        ...timeRow("Expires", job.expiresAt),
        h("dt", {}, "Version"),
        h("dd", {}, String(job.version)),
      ),
      job.error
        ? h(
            "div",
            { class: "detail-block" },
            h("h3", {}, job.status === "queued" ? "Last attempt's error" : "Error"),
            h("pre", { class: "error-box" }, job.error),
          )
        : null,
      job.status === "completed"
        ? h("div", { class: "detail-block" }, h("h3", {}, "Result"), image, h("pre", { class: "result-box" }, resultText(job.result)))
        : null,
      actions,
    ];
    this.body.replaceChildren(...parts.filter(Boolean));
    if (focused) this.body.querySelector(`[data-action="${focused}"]`)?.focus();
  }
}
