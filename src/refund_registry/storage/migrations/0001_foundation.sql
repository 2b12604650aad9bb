-- Foundation: the application role, principals and their keys.
--
-- The service connects with the migration owner's credentials and switches to
-- the unprivileged role `registry_app` for every request (SET ROLE at connect),
-- so append-only tables can withhold UPDATE/DELETE/TRUNCATE from it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'registry_app') THEN
        CREATE ROLE registry_app NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO registry_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO registry_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO registry_app;

-- Refuses any UPDATE, DELETE or TRUNCATE of an append-only table, whoever asks.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE principals (
    id          text PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (role IN ('member', 'adjudicator', 'auditor', 'admin')),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE principal_keys (
    kid             text PRIMARY KEY,
    principal_id    text NOT NULL REFERENCES principals (id),
    alg             text NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
    public_key_pem  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX principal_keys_principal ON principal_keys (principal_id);

-- Every process keeps the keys it verified in memory; this tells them all to
-- forget a key or principal the moment it changes.
CREATE FUNCTION notify_principal_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('registry_principals', NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE ON principals
    FOR EACH ROW EXECUTE FUNCTION notify_principal_row();
CREATE FUNCTION notify_key_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('registry_principals', NEW.principal_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER principal_keys_changed AFTER INSERT OR UPDATE ON principal_keys
    FOR EACH ROW EXECUTE FUNCTION notify_key_row();

GRANT SELECT, INSERT, UPDATE, DELETE ON principals, principal_keys TO registry_app;
