-- The JSON API: accounts, tokens, per-probe preferences, and the indexes its lists sort by.

-- Users of the API. `sites` NULL means every site; otherwise the names of the sites the user
-- may see (objects of any other site do not exist for them: 404, never listed).
CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    password_hash   text NOT NULL,          -- argon2id PHC string
    role            text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    sites           text[],
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The key that signs access tokens (HS256), shared by every controller of this database.
CREATE TABLE api_secret (
    id          int PRIMARY KEY CHECK (id = 1),
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens, stored as SHA-256 of the token. Every login starts a family; each refresh
-- marks the presented token used and issues the next one of the family. A used token
-- presented again means it was stolen (or replayed): the whole family is revoked, which also
-- ends the access tokens issued from it (they carry the family id).
CREATE TABLE refresh_tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    family      bytea NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Long-lived tokens for scripts and integrations (SHA-256 of the token; the clear token is
-- shown once, at creation). They act with their user's role and sites.
CREATE TABLE api_tokens (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id),
    name            text NOT NULL,
    prefix          text NOT NULL,
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- ntop's getPreference/setPreference, per probe.
CREATE TABLE preferences (
    probe_id    bigint NOT NULL REFERENCES probes (id),
    key         text NOT NULL,
    value       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL,
    PRIMARY KEY (probe_id, key)
);

-- Host lists sorted by traffic, paged by keyset (sort key, then the host's primary key): an
-- index scan reads only the page. Other sort keys sort the filtered rows.
CREATE INDEX hosts_by_bytes ON hosts ((tx_bytes + rx_bytes), probe_id, interface_id, ip);
CREATE INDEX hosts_by_packets ON hosts ((tx_packets + rx_packets), probe_id, interface_id, ip);
CREATE INDEX hosts_ip ON hosts (ip);
