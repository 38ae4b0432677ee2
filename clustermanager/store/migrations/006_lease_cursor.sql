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

-- Networks recorded before ranges existed get their CIDR's host addresses
-- as their one range (what addNetwork now does when none is given).
INSERT INTO address_ranges (network_id, first_addr, last_addr)
SELECT id,
    CASE WHEN masklen(cidr) <= 30 THEN host(cidr)::inet + 1 ELSE host(cidr)::inet END,
    CASE WHEN masklen(cidr) <= 30 THEN host(broadcast(cidr))::inet - 1 ELSE host(broadcast(cidr))::inet END
FROM networks n
WHERE cidr IS NOT NULL AND NOT EXISTS (SELECT 1 FROM address_ranges r WHERE r.network_id = n.id);
