-- Storage and retention organised by arrival (the controller's clock), not by packet time.
--
-- Until now the raw samples were partitioned by the day of the interval's end and the hourly
-- rollup by its month, both packet time, which a probe chooses freely: every distinct day a
-- probe claimed made two partitions (thousands of days, far-future days never retired), and
-- retention judged packet time, so a capture from 2016 replayed today lost its samples at the
-- next retention run. Now every batch is stamped with its arrival (batches.received_at, set
-- by the controller), the samples are partitioned by arrival day and the hourly rollup by the
-- month of arrival of the batches folded into it; retention drops what arrived too long ago,
-- and never what the fold has not taken yet. Packet time (`ts`) stays data: histories and
-- top talkers still select by it.
--
-- A batch the fold cannot take (its sums overflow, …) is quarantined: marked done for the fold
-- (rolled_up) with the reason in `quarantined`, so the other probes' batches keep folding;
-- its samples stay until retention (or an operator) removes them. Readers never see it.

ALTER TABLE batches ADD COLUMN quarantined text;
CREATE INDEX batches_quarantined ON batches (probe_id) WHERE quarantined IS NOT NULL;
ALTER TABLE probes ADD COLUMN quarantined_batches bigint NOT NULL DEFAULT 0;
ALTER TABLE probes ADD COLUMN last_quarantine text;
ALTER TABLE probes ADD COLUMN last_quarantine_at timestamptz;
-- Batches refused at ingest for breaking a rule (counters past the configured bound, times out
-- of range, …): counted per probe, with the last reason, so an operator sees a misbehaving probe.
ALTER TABLE probes ADD COLUMN refused_batches bigint NOT NULL DEFAULT 0;
ALTER TABLE probes ADD COLUMN last_refusal text;
ALTER TABLE probes ADD COLUMN last_refusal_at timestamptz;

-- The old tables move aside (their partitions with them) and are copied into the new shape.
ALTER TABLE host_samples RENAME TO host_samples_by_packet_time;
ALTER TABLE interface_samples RENAME TO interface_samples_by_packet_time;
ALTER TABLE host_hourly RENAME TO host_hourly_by_packet_time;
ALTER INDEX host_samples_host RENAME TO host_samples_by_packet_time_host;
ALTER INDEX host_samples_batch RENAME TO host_samples_by_packet_time_batch;
ALTER INDEX interface_samples_iface RENAME TO interface_samples_by_packet_time_iface;

-- Per-interval host samples (see 0001 for the columns), partitioned by arrival day.
CREATE TABLE host_samples (LIKE host_samples_by_packet_time INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                           arrived date NOT NULL)
    PARTITION BY RANGE (arrived);
CREATE TABLE interface_samples (LIKE interface_samples_by_packet_time INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                                arrived date NOT NULL)
    PARTITION BY RANGE (arrived);

-- Hourly host rollup, partitioned by the month of arrival of the batches folded into a row: a
-- host-hour whose batches arrived in two months has a row in each (readers sum per hour).
CREATE TABLE host_hourly (
    probe_id        bigint NOT NULL,
    interface_id    bigint NOT NULL,
    ip              inet NOT NULL,
    ts              timestamptz NOT NULL,
    arrived         date NOT NULL,
    tx_packets      bigint NOT NULL,
    tx_bytes        bigint NOT NULL,
    rx_packets      bigint NOT NULL,
    rx_bytes        bigint NOT NULL,
    peak_thpt_tx    real NOT NULL,
    peak_thpt_rx    real NOT NULL,
    PRIMARY KEY (probe_id, interface_id, ip, ts, arrived)
) PARTITION BY RANGE (arrived);

-- The small rollups stay whole tables; each row remembers the last arrival that touched it.
ALTER TABLE host_daily ADD COLUMN arrived date NOT NULL DEFAULT current_date;
ALTER TABLE interface_hourly ADD COLUMN arrived date NOT NULL DEFAULT current_date;
ALTER TABLE interface_daily ADD COLUMN arrived date NOT NULL DEFAULT current_date;

-- Copy what exists, making the partitions it needs.
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM batches LOOP
        EXECUTE format('CREATE TABLE host_samples_a%s PARTITION OF host_samples FOR VALUES FROM (%L) TO (%L)',
                       to_char(d, 'YYYYMMDD'), d, d + 1);
        EXECUTE format('CREATE TABLE interface_samples_a%s PARTITION OF interface_samples FOR VALUES FROM (%L) TO (%L)',
                       to_char(d, 'YYYYMMDD'), d, d + 1);
    END LOOP;
    -- The months of arrival; this month too when old hourly rows have no batch left (they
    -- count as arrived now).
    FOR d IN SELECT date_trunc('month', received_at AT TIME ZONE 'UTC')::date FROM batches
             UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date
                   WHERE NOT EXISTS (SELECT 1 FROM batches)
                     AND EXISTS (SELECT 1 FROM host_hourly_by_packet_time) LOOP
        EXECUTE format('CREATE TABLE host_hourly_a%s PARTITION OF host_hourly FOR VALUES FROM (%L) TO (%L)',
                       to_char(d, 'YYYYMM'), d, (d + interval '1 month')::date);
    END LOOP;
END $$;

INSERT INTO host_samples
SELECT s.*, (b.received_at AT TIME ZONE 'UTC')::date
FROM host_samples_by_packet_time s JOIN batches b ON b.probe_id = s.probe_id AND b.seq = s.seq;
INSERT INTO interface_samples
SELECT s.*, (b.received_at AT TIME ZONE 'UTC')::date
FROM interface_samples_by_packet_time s JOIN batches b ON b.probe_id = s.probe_id AND b.seq = s.seq;
-- The old hourly rows had no arrival: they count as arrived in the oldest month known (this
-- month when no batch is left).
INSERT INTO host_hourly (probe_id, interface_id, ip, ts, arrived, tx_packets, tx_bytes, rx_packets, rx_bytes,
                         peak_thpt_tx, peak_thpt_rx)
SELECT h.probe_id, h.interface_id, h.ip, h.ts,
       coalesce((SELECT min(date_trunc('month', received_at AT TIME ZONE 'UTC'))::date FROM batches),
                date_trunc('month', now() AT TIME ZONE 'UTC')::date),
       h.tx_packets, h.tx_bytes, h.rx_packets, h.rx_bytes, h.peak_thpt_tx, h.peak_thpt_rx
FROM host_hourly_by_packet_time h;

DROP TABLE host_samples_by_packet_time;
DROP TABLE interface_samples_by_packet_time;
DROP TABLE host_hourly_by_packet_time;

CREATE INDEX host_samples_host ON host_samples (probe_id, interface_id, ip, ts);
CREATE INDEX host_samples_batch ON host_samples (probe_id, seq);
CREATE INDEX interface_samples_iface ON interface_samples (probe_id, interface_id, ts);
CREATE INDEX batches_arrival ON batches (received_at);
