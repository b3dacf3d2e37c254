// Small DOM and formatting helpers shared by the demo page and the dashboard.

export const STATUS_LABELS = Object.freeze({
  queued: "Queued",
  processing: "Running",
  completed: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
});

/** Create an element: h("p", {class: "x", onclick: f}, "text", child). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

/** Set an element's text only when it changed (keeps screen readers and selections calm). */
export function setText(element, text) {
  const value = text ?? "";
  if (element.textContent !== value) element.textContent = value;
}

/** 0-100 when the job reports a total (100 once completed), else null. */
export function percentOf(job) {
  if (job.status === "completed") return 100;
  const progress = job.progress;
  if (!progress || !progress.total) return null;
  return Math.max(0, Math.min(100, (100 * progress.current) / progress.total));
}

/** A role="progressbar" element; update it with `updateProgress`. */
export function progressBar(label) {
  const bar = h("div", { class: "bar" });
  return h(
    "div",
    {
      class: "progress",
      role: "progressbar",
      "aria-label": label,
      "aria-valuemin": 0,
      "aria-valuemax": 100,
    },
    bar,
  );
}

/**
 * Show the job's progress: its value when the task reports a total, a sweep while it runs
 * without one, an empty track while it waits, and a full bar once completed.
 */
export function updateProgress(element, job) {
  const percent = percentOf(job);
  const sweeping = percent === null && job.status === "processing";
  element.dataset.status = job.status;
  element.classList.toggle("indeterminate", sweeping);
  if (sweeping) {
    element.style.removeProperty("--value");
    element.removeAttribute("aria-valuenow");
    element.setAttribute("aria-valuetext", STATUS_LABELS.processing);
  } else {
    const value = Math.round(percent ?? 0);
    element.style.setProperty("--value", `${value}%`);
    element.setAttribute("aria-valuenow", String(value));
    element.setAttribute("aria-valuetext", `${value}%`);
  }
}

/** "850 ms", "4.2 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * "starts in ~12 s" from a waiting job's `estimatedStartAt`, "starts any moment" once it is
 * due, "" when there is no estimate.
 */
export function startsIn(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 1) return "starts any moment";
  return `starts in ~${seconds < 60 ? `${seconds} s` : formatDuration(seconds * 1000)}`;
}

const relative = new Intl.RelativeTimeFormat(undefined, {
  numeric: "auto",
  style: "short",
});

/** "12 sec. ago", "in 3 hr." from an ISO timestamp. */
export function formatRelative(iso, now = Date.now()) {
  if (!iso) return "";
  const seconds = (Date.parse(iso) - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  if (abs < 60) return relative.format(Math.round(seconds), "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

const stamp = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});

/** A local date and time for a timestamp, or "—". */
export function formatTimestamp(iso) {
  return iso ? stamp.format(new Date(iso)) : "—";
}

/** How long the job ran (or has been running), in ms; null before it started. */
export function runTime(job, now = Date.now()) {
  if (!job.startedAt) return null;
  const end = job.completedAt ? Date.parse(job.completedAt) : now;
  return end - Date.parse(job.startedAt);
}
