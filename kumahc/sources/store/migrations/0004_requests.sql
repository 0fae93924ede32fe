-- The queue between `kumahc apply` and the store's writer (`kumahc store writer`): an applier inserts its request
-- (JSON text: the resources as read, the problems of reading them) and notifies channel kumahc_requests; the
-- writer holding advisory lock 0x6B756D61686302 validates it against the state it keeps in memory and, in the
-- transaction that commits the change, stores its answer and notifies channel kumahc_results. An applier that
-- stops waiting deletes its unanswered request, so no writer commits it afterwards.
CREATE TABLE kumahc_requests (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request text NOT NULL,
    answer text,
    created_at timestamptz NOT NULL DEFAULT now()
);
