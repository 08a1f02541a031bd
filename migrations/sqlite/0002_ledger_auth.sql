-- The credit ledger, API tokens, idempotent requests, and booking lifecycle columns.

-- Credit that left a deposit without being spent: expired, or carried over to the next deposit.
ALTER TABLE deposits ADD COLUMN closed_cents BIGINT NOT NULL DEFAULT 0;
-- Part of amount_cents carried over from the previous deposit (the rest was granted).
ALTER TABLE deposits ADD COLUMN carried_in_cents BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX deposits_one_per_grant ON deposits(user_id, policy, age);

-- Append-only: every movement of credit, signed. For every deposit,
-- SUM(amount_cents) = amount_cents - spent_cents - closed_cents (`mosaic ledger check`).
CREATE TABLE credit_ledger (
    id INTEGER PRIMARY KEY,
    deposit_id BIGINT NOT NULL REFERENCES deposits(id),
    booking_id BIGINT REFERENCES bookings(id),
    kind TEXT NOT NULL CHECK (kind IN ('grant', 'carry_in', 'carry_out', 'debit', 'refund', 'expiry')),
    amount_cents BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX credit_ledger_deposit ON credit_ledger(deposit_id);
-- A booking is debited once and refunded at most once.
CREATE UNIQUE INDEX credit_ledger_once ON credit_ledger(booking_id, kind) WHERE booking_id IS NOT NULL;

ALTER TABLE bookings ADD COLUMN cancel_reason TEXT;

-- Bearer tokens, kept as SHA-256 hashes.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('user', 'partner', 'curator', 'analyst', 'admin')),
    user_id BIGINT REFERENCES users(id),
    offerer_id BIGINT REFERENCES offerers(id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((role = 'user') = (user_id IS NOT NULL)),
    CHECK ((role = 'partner') = (offerer_id IS NOT NULL))
);

-- A retried request with the same Idempotency-Key gets the first answer back.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
