-- Each network's allocation cursor (Tashi's next-fit cursor): a sequence,
-- so parallel admissions draw distinct candidate addresses without
-- waiting on each other. New networks get theirs in addNetwork.
DO $$
DECLARE n bigint;
BEGIN
    FOR n IN SELECT id FROM networks LOOP
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS lease_cursor_%s', n);
    END LOOP;
END $$;
