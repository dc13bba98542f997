-- Alarm events and their actions (issue 11, parts 5 and 6).
--
-- An event is one alarm raised: a threshold that fired for a file (a check), or a script's
-- `wirewatch.raise_alarm`. It is open until an operator acknowledges it. `probe_id` is the probe
-- its subject belongs to (a threshold's file under that probe's archive directory), so a user
-- scoped to some sites sees only their probes' events; NULL means it names no probe (a script's
-- alarm, or a file outside the probes' directories) and only users of every site see it.
CREATE TABLE alarm_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    raised_at timestamptz NOT NULL,
    source text NOT NULL CHECK (source IN ('threshold', 'script')),
    name text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    subject text NOT NULL,
    message text NOT NULL,
    probe_id bigint REFERENCES probes (id) ON DELETE SET NULL,
    threshold_id bigint,
    value double precision,
    threshold double precision,
    direction text,
    -- Thresholds: the end of the interval whose value fired, and the fetch window as
    -- configured (ntop's START and END, e.g. now-1h).
    value_at timestamptz,
    window_start text,
    window_end text,
    controller text NOT NULL,
    acked_at timestamptz,
    acked_by text,
    CHECK ((acked_at IS NULL) = (acked_by IS NULL))
);
CREATE INDEX alarm_events_recent ON alarm_events (id DESC);
CREATE INDEX alarm_events_open ON alarm_events (severity) WHERE acked_at IS NULL;

-- One run of an action for a group of events (ntop called each action once per action
-- parameter with every alarm of the check). `pending` rows are claimed by one controller until
-- `claimed_until`; a row whose claim ran out (its controller died) is run again by the next
-- check, so an action runs at least once. `attempts` and `last_error` say what happened.
CREATE TABLE alarm_actions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL,
    action text NOT NULL,
    parameter text NOT NULL,
    event_ids bigint[] NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'ok', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    claimed_by text,
    claimed_until timestamptz,
    finished_at timestamptz
);
CREATE INDEX alarm_actions_pending ON alarm_actions (claimed_until) WHERE status = 'pending';
CREATE INDEX alarm_actions_events ON alarm_actions USING gin (event_ids);
