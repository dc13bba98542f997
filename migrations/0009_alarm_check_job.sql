-- rrdAlarm's periodic check (issue 11, part 3): its row in `jobs` is the lease that makes one
-- controller of the database check per period (`[alarms] check_every_secs`).
INSERT INTO jobs (name) VALUES ('alarm_check') ON CONFLICT (name) DO NOTHING;
