-- Users: sign-in, role, two-factor, where wanted calls go, and their settings (JSON, validated by the service).
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN forwarding_target TEXT;
ALTER TABLE users ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX users_email ON users(email) WHERE email IS NOT NULL;

-- The smart whitelist and block list, per user: an E.164 number or a prefix pattern ending in '*'.
CREATE TABLE whitelist_entries (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pattern TEXT NOT NULL,
    list TEXT NOT NULL,
    source TEXT NOT NULL,
    label TEXT,
    reason TEXT,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, pattern)
);

-- One global profile per caller, keyed by HMAC-SHA256(server key, E.164 number): never the number itself.
CREATE TABLE caller_profiles (
    number_key TEXT PRIMARY KEY,
    key_version INTEGER NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    short_calls BIGINT NOT NULL DEFAULT 0,
    answered_calls BIGINT NOT NULL DEFAULT 0,
    spam_reports BIGINT NOT NULL DEFAULT 0,
    not_spam_reports BIGINT NOT NULL DEFAULT 0,
    intents TEXT NOT NULL DEFAULT '{}',
    attestations TEXT NOT NULL DEFAULT '{}',
    recent_calls TEXT NOT NULL DEFAULT '[]',
    score DOUBLE PRECISION NOT NULL DEFAULT 0,
    signals TEXT NOT NULL DEFAULT '[]',
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

-- What one user said and saw of one caller: their verdict wins for them.
CREATE TABLE caller_user_views (
    number_key TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    calls BIGINT NOT NULL DEFAULT 0,
    verdict TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (number_key, user_id)
);
CREATE INDEX caller_user_views_user ON caller_user_views(user_id);

-- Refresh tokens, stored hashed; a family is one sign-in and its rotations.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);

-- Global settings and feature flags (scope 'global'); values are JSON.
CREATE TABLE settings (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Admin actions.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log(at);

-- Call records and their turns, written from the journal (last_sequence makes the replay idempotent). Times are
-- milliseconds since the Unix epoch. PostgreSQL partitions both by month of the call's start.
CREATE TABLE call_records (
    id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    user_id TEXT,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    state TEXT NOT NULL,
    decision TEXT,
    reasons TEXT NOT NULL DEFAULT '[]',
    intent TEXT,
    intent_confidence DOUBLE PRECISION,
    outcome TEXT,
    end_reason TEXT,
    answered_at BIGINT,
    ended_at BIGINT,
    recording_path TEXT,
    latencies TEXT NOT NULL DEFAULT '{}',
    instance TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
    PRIMARY KEY (id, started_at)
);
CREATE INDEX call_records_user_started ON call_records(user_id, started_at);
CREATE INDEX call_records_state ON call_records(state, instance);

CREATE TABLE call_turns (
    call_id TEXT NOT NULL,
    call_started_at BIGINT NOT NULL,
    turn INTEGER NOT NULL,
    caller_text TEXT NOT NULL,
    reply_text TEXT NOT NULL,
    intent TEXT,
    confidence DOUBLE PRECISION,
    at BIGINT NOT NULL,
    latencies TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (call_id, call_started_at, turn)
);
