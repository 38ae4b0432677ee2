-- Where a host's node manager listens (host:port), as it registered.
ALTER TABLE hosts ADD COLUMN nm_address text NOT NULL DEFAULT '';
