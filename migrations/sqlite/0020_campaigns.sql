-- Push campaigns: a partner asks the engine to notify young people about one offer with
-- at least 50 places left; the engine picks an audience in batch and delivers it.

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    offer_id BIGINT NOT NULL REFERENCES offers(id),
    offerer_id BIGINT NOT NULL REFERENCES offerers(id),
    -- requested → targeted (audience written) → sending → sent; or stopped (places gone).
    status TEXT NOT NULL CHECK (status IN ('requested', 'targeted', 'sending', 'sent', 'stopped')),
    -- Why a campaign stopped before sending everything (e.g. `sold_out`).
    stop_reason TEXT,
    requested_at BIGINT NOT NULL,
    targeted_at BIGINT,
    finished_at BIGINT
);
-- At most one unfinished campaign per offer, even under concurrent requests.
CREATE UNIQUE INDEX campaigns_one_open ON campaigns(offer_id) WHERE status IN ('requested', 'targeted', 'sending');
CREATE INDEX campaigns_offerer ON campaigns(offerer_id);

-- One row per targeted user: written once when the audience is picked, then marked sent.
-- The idempotency key goes to the push provider with the message, so a resend after a
-- crash between the provider's answer and this row's update is dropped by the provider.
CREATE TABLE campaign_deliveries (
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    position INTEGER NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    new_to_category BOOLEAN NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    PRIMARY KEY (campaign_id, user_id)
);
-- The frequency cap looks up a user's recent pushes.
CREATE INDEX campaign_deliveries_user ON campaign_deliveries(user_id, created_at);
