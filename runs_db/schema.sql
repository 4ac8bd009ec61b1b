-- curascale run registry, schema version 1 (later versions: migrations/NNNN_*.sql, applied in order).
-- Units are in the column names or stated here: params (count), tokens (count), samples_seen
-- (image-text pairs seen), bits_* (bits), flops (FLOPs).

CREATE TABLE IF NOT EXISTS pools (
    name            VARCHAR PRIMARY KEY,
    source          VARCHAR,            -- where the pool came from (a path or URL)
    size_samples    BIGINT,             -- unique samples in one epoch of the pool
    fingerprint     VARCHAR,            -- sha256 over the pool's shards
    created_at      TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS buckets (
    pool            VARCHAR NOT NULL,
    name            VARCHAR NOT NULL,   -- e.g. tmars_top0to10p
    score_column    VARCHAR NOT NULL,   -- the score the bucket is cut on
    quantile_lo     DOUBLE NOT NULL,    -- top-percentile range, e.g. 0 and 10 for the best 10%
    quantile_hi     DOUBLE NOT NULL,
    size_samples    BIGINT,
    created_at      TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (pool, name)
);

CREATE TABLE IF NOT EXISTS runs (
    run_id              VARCHAR PRIMARY KEY,
    family              VARCHAR,        -- e.g. chinchilla, datablations, openlm
    experiment          VARCHAR,
    params              DOUBLE,         -- model parameters (count)
    tokens              DOUBLE,         -- training tokens seen (count)
    unique_tokens       DOUBLE,         -- unique tokens in the training data
    samples_seen        DOUBLE,         -- image-text pairs seen
    unique_samples      DOUBLE,         -- unique samples in the training pool
    epochs              DOUBLE,         -- passes over the unique data (repetitions)
    flops               DOUBLE,         -- training compute (FLOPs)
    bits_weights        DOUBLE,         -- training precision of weights (bits)
    bits_activations    DOUBLE,
    bits_kv_cache       DOUBLE,
    bits_post_training  DOUBLE,         -- post-training quantization precision (bits)
    domain_tokens       DOUBLE,         -- unique domain tokens mixed into pretraining (LAWS.md §6)
    domain_fraction     DOUBLE,         -- share of training tokens drawn from the domain set
    pool                VARCHAR,
    bucket              VARCHAR,
    mixture             JSON,           -- {"bucket": weight, ...} for mixtures of buckets
    config              JSON,           -- every other column of the ingested row
    source_file         VARCHAR,
    content_hash        VARCHAR NOT NULL, -- sha256 of the row's run fields and evals
    ingested_at         TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS evals (
    run_id      VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,       -- loss (nats/token), error or accuracy (in [0, 1])
    value       DOUBLE NOT NULL,
    split       VARCHAR NOT NULL DEFAULT '',
    task        VARCHAR NOT NULL DEFAULT '',
    step        BIGINT NOT NULL DEFAULT -1,   -- -1: the final checkpoint
    PRIMARY KEY (run_id, metric, split, task, step)
);

CREATE TABLE IF NOT EXISTS fits (
    fit_id      VARCHAR PRIMARY KEY,
    law         VARCHAR NOT NULL,
    law_version VARCHAR NOT NULL,
    parameters  JSON NOT NULL,
    objective   DOUBLE NOT NULL,
    n_points    BIGINT NOT NULL,
    data_hash   VARCHAR NOT NULL,
    artifact    JSON,                   -- the whole Fit artifact
    created_at  TIMESTAMP DEFAULT current_timestamp
);
