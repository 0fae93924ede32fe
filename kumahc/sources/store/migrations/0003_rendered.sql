-- The snapshot the writer rendered, so that serving replicas need not render it themselves. apply and delete
-- validate the whole resulting state by rendering it; they store what they rendered in the same transaction as
-- the resources. A replica serves these parts only when they render the resources' current revision, with its
-- own kumahc code and default rendering options; otherwise it renders the resources itself.
CREATE TABLE kumahc_rendered (
    id       integer PRIMARY KEY CHECK (id = 1),
    revision bigint  NOT NULL,  -- the kumahc_state revision these parts render
    renderer text    NOT NULL,  -- kumahc/<version>+<digest of its code>: the kumahc that rendered them
    warnings text[]  NOT NULL   -- the render's warning lines, as validate --store prints them
);

-- One row per distinct cluster: digest = SHA-256 of resource (the serialized google.protobuf.Any of the Cluster).
CREATE TABLE kumahc_rendered_clusters (
    digest   bytea  PRIMARY KEY,
    name     text   NOT NULL,
    version  text   NOT NULL,  -- the resource version (06 §4)
    resource bytea  NOT NULL,
    revision bigint NOT NULL   -- the store revision that wrote the row
);
CREATE INDEX kumahc_rendered_clusters_revision ON kumahc_rendered_clusters (revision);

-- One row per proxy: its version and its clusters' digests concatenated in name order (32 bytes each).
CREATE TABLE kumahc_rendered_proxies (
    mesh     text   NOT NULL,
    name     text   NOT NULL,
    version  text   NOT NULL,
    clusters bytea  NOT NULL,
    revision bigint NOT NULL,
    PRIMARY KEY (mesh, name)
);
CREATE INDEX kumahc_rendered_proxies_revision ON kumahc_rendered_proxies (revision);
