-- Hits of rate limits (Store.count_hit): one row per key and window, deleted by the purge
-- once the window has ended. Unlogged: a crash may forget the current windows' counts,
-- which costs at most one window of extra submits and saves a WAL write per submit.
CREATE UNLOGGED TABLE rate_hits (
    key   text NOT NULL,
    until timestamptz NOT NULL,
    hits  integer NOT NULL,
    PRIMARY KEY (key, until)
);
CREATE INDEX rate_hits_until ON rate_hits (until);
