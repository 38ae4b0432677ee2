-- The cluster manager's record. Every mutation is one transaction; an
-- instance row carries a version for compare-and-set.

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    role           text NOT NULL CHECK (role IN ('user','admin','nodemanager','agent')),
    token_hash     bytea NOT NULL UNIQUE,
    max_instances  int NOT NULL DEFAULT 0 CHECK (max_instances >= 0),
    max_cores      int NOT NULL DEFAULT 0 CHECK (max_cores >= 0),
    max_memory     int NOT NULL DEFAULT 0 CHECK (max_memory >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hosts (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    state           text NOT NULL DEFAULT 'Normal'
                    CHECK (state IN ('Normal','Drained','VersionMismatch')),
    cores           int NOT NULL DEFAULT 0 CHECK (cores >= 0),
    memory          int NOT NULL DEFAULT 0 CHECK (memory >= 0),
    version         text NOT NULL DEFAULT '',
    notes           text NOT NULL DEFAULT '',
    last_heartbeat  timestamptz,
    stats           jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    host_id  bigint NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (host_id, user_id)
);

CREATE TABLE networks (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('bridge','vxlan','vlan')),
    segment_id  int NOT NULL DEFAULT 0 CHECK (segment_id >= 0),
    cidr        cidr,
    gateway     inet,
    domain      text NOT NULL DEFAULT '',
    mtu         int NOT NULL DEFAULT 0 CHECK (mtu >= 0),
    is_default  boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX networks_one_default ON networks (is_default) WHERE is_default;

CREATE TABLE address_ranges (
    id          bigserial PRIMARY KEY,
    network_id  bigint NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    first_addr  inet NOT NULL,
    last_addr   inet NOT NULL,
    CHECK (first_addr <= last_addr)
);

CREATE TABLE images (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    size        bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instance_groups (
    id          bigserial PRIMARY KEY,
    basename    text NOT NULL,
    user_id     bigint NOT NULL REFERENCES users(id),
    count       int NOT NULL CHECK (count > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    user_id        bigint NOT NULL REFERENCES users(id),
    state          text NOT NULL,
    host_id        bigint REFERENCES hosts(id),
    cores          int NOT NULL CHECK (cores > 0),
    memory         int NOT NULL CHECK (memory > 0),
    disks          jsonb NOT NULL DEFAULT '[]',
    nics           jsonb NOT NULL DEFAULT '[]',
    hints          jsonb NOT NULL DEFAULT '{}',
    group_id       bigint REFERENCES instance_groups(id) ON DELETE SET NULL,
    version        bigint NOT NULL DEFAULT 1,
    vm_id          text NOT NULL DEFAULT '',
    error          text NOT NULL DEFAULT '',
    claim_id       text,
    claim_owner    text,
    claim_expires  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_host ON instances (host_id);
CREATE INDEX instances_user ON instances (user_id);
CREATE INDEX instances_name ON instances (name);
CREATE INDEX instances_state ON instances (state);

-- Which instance holds a persistent image; at most one at a time.
CREATE TABLE persistent_holds (
    image_id     bigint PRIMARY KEY REFERENCES images(id),
    instance_id  bigint NOT NULL REFERENCES instances(id) ON DELETE CASCADE
);

CREATE TABLE leases (
    network_id   bigint NOT NULL REFERENCES networks(id),
    address      inet NOT NULL,
    instance_id  bigint NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    nic_index    int NOT NULL,
    mac          macaddr NOT NULL,
    PRIMARY KEY (network_id, address),
    UNIQUE (instance_id, nic_index)
);

CREATE TABLE vmm_calls (
    id           bigserial PRIMARY KEY,
    instance_id  bigint NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    arg          text NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','failed')),
    result       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Append-only: who did what. No foreign keys, so history outlives rows.
CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    instance_id  bigint,
    host_id      bigint,
    actor        text NOT NULL,
    kind         text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_instance ON events (instance_id, id);

-- Answers of mutating requests, by idempotency key, written in the same
-- transaction as the change: a retried request gets the first answer.
CREATE TABLE requests (
    key         text NOT NULL,
    user_id     bigint NOT NULL,
    status      int NOT NULL,
    response    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX requests_age ON requests (created_at);

CREATE RULE events_no_update AS ON UPDATE TO events DO INSTEAD NOTHING;
CREATE RULE events_no_delete AS ON DELETE TO events DO INSTEAD NOTHING;

-- A migrating instance also holds room on its target until it lands.
ALTER TABLE instances ADD COLUMN target_host_id bigint REFERENCES hosts(id);
CREATE INDEX instances_target ON instances (target_host_id) WHERE target_host_id IS NOT NULL;
