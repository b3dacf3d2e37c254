// Compiled (not run) by types.test.js: the declarations must describe real usage without errors.

import defaultClient, {
  createClient,
  isTerminal,
  type Job,
  JobQueueError,
  submit,
  watch,
  watchTag,
} from "../jobqueue.js";
import { useJob, useJobs, useTaggedJobs } from "../react.js";

interface Image {
  image: string;
  width: number;
}

async function usage(): Promise<void> {
  const client = createClient({ baseUrl: "https://jobs.example.com", apiKey: "k" });
  const job: Job<Image> = await client.submit<Image>(
    "generate_image",
    { prompt: "a fox" },
    {
      priority: 1,
      idempotencyKey: "x",
    },
  );
  const stop = client.watch<Image>(job.jobId, (update) => update.progress?.message, {
    onError: (error, { willRetry }) => (willRetry ? error.status : error.message),
  });
  stop();
  const done = await client.wait<Image>(job.jobId, { signal: AbortSignal.timeout(1000) });
  const width: number | undefined = done.result?.width;
  const page = await client.list({ status: ["failed", "cancelled"], limit: 10 });
  const summaries = await createClient({ apiKey: () => null }).list({ fields: "summary" });
  const total: number | null | undefined = summaries.jobs[0]?.progress?.total;
  // @ts-expect-error: a summary has no result
  void summaries.jobs[0]?.result;
  const counts: number = (await client.stats()).totals.completed + page.jobs.length + (total ?? 0);
  try {
    await defaultClient.cancel(job.jobId);
  } catch (error) {
    if (error instanceof JobQueueError && error.status === 409) error.job?.status;
  }
  await submit(null, [1, 2, 3]);
  watch("id", () => {})();
  const stopTag = watchTag<Image>("batch", (update) => update.result?.image, {
    onError: (error, { willRetry }) => willRetry || error.status,
  });
  stopTag();
  isTerminal(done) && width === counts;
}

function Component(): string {
  const { status, percent, result, error, start } = useJob<Image>({ task: "generate_image" });
  void start({ prompt: "p" });
  const many = useJobs<Image>(["a", "b"]);
  const tagged = useTaggedJobs<Image>("batch");
  const first: Image | null | undefined = many.byId.a?.result ?? tagged.jobs[0]?.result;
  const failed = many.errors.b?.status ?? tagged.error?.status;
  return `${status} ${percent ?? "?"} ${result?.image ?? error ?? ""} ${first?.width} ${failed}`;
}

export { usage, Component };
