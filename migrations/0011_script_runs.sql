-- Scheduled Python scripts (issue 11, part 4): each `[[schedule]]` entry's row in `jobs`
-- (`script:<path>`, made when the controller starts) is the lease that runs it on exactly one
-- controller; each run's output (a report's page, an alarm script's log) is kept here, the
-- newest 100 per script.
CREATE TABLE script_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    script text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('alarm', 'report')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('ok', 'failed')),
    content_type text NOT NULL,
    output bytea NOT NULL,
    error text,
    controller text NOT NULL,
    mailed_to text,
    mail_error text
);
CREATE INDEX script_runs_script ON script_runs (script, id DESC);
CREATE INDEX script_runs_kind ON script_runs (kind, id DESC);
