-- Resources, one row per identity (kind, mesh, namespace, name) as kumahc defines it ('' where the kind has
-- none). id orders rows by creation: it is the store's input order. body is the document as applied (json keeps
-- its key order), without creationTime / metadata.creationTimestamp, which come from created_at.
CREATE TABLE kumahc_resources (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text        NOT NULL,
    mesh        text        NOT NULL,
    namespace   text        NOT NULL,
    name        text        NOT NULL,
    format      text        NOT NULL CHECK (format IN ('universal', 'kubernetes')),
    body        json        NOT NULL,
    created_at  timestamptz NOT NULL,
    modified_at timestamptz NOT NULL,
    generation  bigint      NOT NULL CHECK (generation > 0),
    revision    bigint      NOT NULL,
    UNIQUE (kind, mesh, namespace, name)
);

-- The store's revision: every committed change increments it (writers update this one row conditionally, which
-- serialises them). A row's revision is the store revision that last wrote it.
CREATE TABLE kumahc_state (
    id       integer PRIMARY KEY CHECK (id = 1),
    revision bigint  NOT NULL
);
INSERT INTO kumahc_state (id, revision) VALUES (1, 0);
