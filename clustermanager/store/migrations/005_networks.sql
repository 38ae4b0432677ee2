-- Where a host ends its VXLAN tunnels (its underlay address), as its
-- node manager registered; '' when it has none.
ALTER TABLE hosts ADD COLUMN tunnel_address text NOT NULL DEFAULT '';

-- Leases are looked up by instance when the instance is read.
CREATE INDEX leases_instance ON leases (instance_id);
