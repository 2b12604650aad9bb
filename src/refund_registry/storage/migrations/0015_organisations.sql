-- Organisations: the platform a principal acts for. Enumeration budgets (key
-- service evaluations, risk-query lookups) are kept per organisation, so that
-- a platform cannot multiply its budget by registering more principals.
--
-- Every existing principal is put into an organisation of its own, whose id is
-- the principal's id; a principal inserted without an organisation gets one
-- the same way (the trigger below), so no principal is ever without one.

CREATE TABLE organisations (
    id                   text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- NULL: the deployment's default (REGISTRY_KEYSERVICE_QUOTA_PER_DAY,
    -- REGISTRY_QUERY_QUOTA_PER_DAY). Set by `principals quota`.
    evaluations_per_day  bigint CHECK (evaluations_per_day > 0),
    queries_per_day      bigint CHECK (queries_per_day > 0),
    quota_changed_at     timestamptz,
    quota_above_ceiling  boolean NOT NULL DEFAULT false
);

INSERT INTO organisations (id, created_at) SELECT id, created_at FROM principals;
ALTER TABLE principals ADD COLUMN org_id text REFERENCES organisations (id);
UPDATE principals SET org_id = id;
ALTER TABLE principals ALTER COLUMN org_id SET NOT NULL;
CREATE INDEX principals_org ON principals (org_id);

CREATE FUNCTION principal_own_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.org_id IS NULL THEN
        INSERT INTO organisations (id) VALUES (NEW.id) ON CONFLICT (id) DO NOTHING;
        NEW.org_id := NEW.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER principals_organisation BEFORE INSERT ON principals
    FOR EACH ROW EXECUTE FUNCTION principal_own_organisation();

-- A changed quota reaches every process's cache at once, like a revoked key.
CREATE FUNCTION notify_organisation_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('registry_principals', NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER organisations_changed AFTER UPDATE ON organisations
    FOR EACH ROW EXECUTE FUNCTION notify_organisation_row();

-- The durable daily count per organisation: the backstop of the Redis limiter,
-- which loses its counters when Redis is lost or restarted. Counts only grow.
CREATE TABLE org_usage (
    org_id  text NOT NULL REFERENCES organisations (id),
    day     date NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('evaluation', 'query')),
    units   bigint NOT NULL CHECK (units > 0),
    PRIMARY KEY (org_id, day, kind)
);

CREATE FUNCTION org_usage_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.org_id <> OLD.org_id OR NEW.day <> OLD.day OR NEW.kind <> OLD.kind
       OR NEW.units < OLD.units THEN
        RAISE EXCEPTION 'org_usage counts only grow'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER org_usage_grows BEFORE UPDATE ON org_usage
    FOR EACH ROW EXECUTE FUNCTION org_usage_only_grows();

REVOKE DELETE, TRUNCATE ON org_usage FROM registry_app;
GRANT SELECT, INSERT, UPDATE ON organisations TO registry_app;
GRANT SELECT, INSERT, UPDATE ON org_usage TO registry_app;
GRANT SELECT ON organisations TO registry_keyservice_app;
GRANT SELECT, INSERT, UPDATE ON org_usage TO registry_keyservice_app;
