-- Payloads, results and progress as `json`, not `jsonb`: a job takes any JSON value, and
-- jsonb refuses a string holding U+0000 ("\u0000"), which json keeps as it came. The store
-- never looks inside these values, so jsonb's binary form bought nothing. The change
-- rewrites the table under an exclusive lock: on a large one, run `jobqueue migrate` at a
-- quiet moment.
ALTER TABLE jobs
    ALTER COLUMN payload TYPE json USING payload::json,
    ALTER COLUMN progress TYPE json USING progress::json,
    ALTER COLUMN result TYPE json USING result::json;
