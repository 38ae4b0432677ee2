-- Why an instance is not placed yet (filters and how many hosts each
-- rejected), as the last agent that tried explained it; and the hosts
-- where its activation failed, so it is placed elsewhere next time.
ALTER TABLE instances ADD COLUMN placement jsonb;
ALTER TABLE instances ADD COLUMN failed_hosts bigint[] NOT NULL DEFAULT '{}';
