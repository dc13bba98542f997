-- RRD archives (wirewatch-rrd) keep ntop's `<proto>Bytes` files per interface: they need each
-- interval's bytesStats split, which only the cumulative `interfaces` row held. Samples written
-- before this migration have none (NULL): their intervals count zero in those files.
ALTER TABLE interface_samples ADD COLUMN bytes_stats bigint[];
