-- Migration 2: indexes for the fitter's usual queries (runs of one family; evals of one metric).
CREATE INDEX IF NOT EXISTS runs_family_idx ON runs (family);
CREATE INDEX IF NOT EXISTS evals_metric_idx ON evals (metric);
