-- The state an agent claimed an instance in: its outcome applies only if
-- the instance is still in that state (a destroy may come meanwhile).
ALTER TABLE instances ADD COLUMN claim_state text;
