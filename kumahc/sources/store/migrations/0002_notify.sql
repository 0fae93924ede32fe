-- Every committed revision is announced on channel kumahc_store (payload: the new revision) so that serving
-- replicas LISTENing there reload; rows written since revision R are those with revision > R (deleted ones are
-- the keys missing from a new listing).
CREATE INDEX kumahc_resources_revision ON kumahc_resources (revision);

CREATE FUNCTION kumahc_notify_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kumahc_store', NEW.revision::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER kumahc_state_notify AFTER UPDATE OF revision ON kumahc_state
    FOR EACH ROW EXECUTE FUNCTION kumahc_notify_revision();
