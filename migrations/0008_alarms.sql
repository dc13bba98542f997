-- rrdAlarm (issue 11, part 3): ntop's thresholds, the checker's re-arm state and its runs.
-- Small tables with no foreign keys to probe-keyed data: under Citus they become reference
-- (or single-shard) tables as they are, and nothing joins them to distributed ones.

-- One row per threshold, in ntop's file order (`position`). Each of ntop's ten fields is kept
-- as the validated text it was given (wirewatch-alarm validates; an export writes the texts
-- back unchanged); `id` is the ID field's number, the key of the re-arm state.
CREATE TABLE alarm_thresholds (
    id bigint PRIMARY KEY CHECK (id >= 0 AND id <= 4294967295),
    position integer NOT NULL UNIQUE,
    id_text text NOT NULL,
    rrd_path text NOT NULL,
    kind text NOT NULL,
    value text NOT NULL,
    repetitions text NOT NULL,
    start_time text NOT NULL,
    end_time text NOT NULL,
    action text NOT NULL,
    action_parameter text NOT NULL,
    rearm_secs text NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- When a threshold last fired for a file (wall time): a check may fire it again for that
-- file only once its re-arm seconds have passed. Rows of a threshold removed or edited by an
-- import are dropped with it (ntop started afresh when its file changed).
CREATE TABLE alarm_rearm (
    threshold_id bigint NOT NULL,
    file text NOT NULL,
    fired_at timestamptz NOT NULL,
    PRIMARY KEY (threshold_id, file)
);

-- One row per check: when, how long, what it did, on which controller.
CREATE TABLE alarm_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    thresholds integer NOT NULL,
    files_checked integer NOT NULL,
    alarms_fired integer NOT NULL,
    controller text NOT NULL
);
CREATE INDEX alarm_runs_started ON alarm_runs (started_at);
