-- The Python engine's own preferences (ntop.getPreference / ntop.setPreference): one value per
-- key for the whole engine, shared by every controller of this database, so a script's change
-- is seen by the next script on any controller and survives restarts. Per-probe preferences
-- stay in `preferences` (the JSON API's).
CREATE TABLE engine_preferences (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);
