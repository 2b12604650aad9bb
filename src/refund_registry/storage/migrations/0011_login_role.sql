-- Login roles that own nothing.
--
-- The API logs in as `registry_api`, a member of the NOLOGIN role
-- `registry_app` that holds the table grants; the key service logs in as
-- `registry_keyservice`, a member of `registry_keyservice_app`, which may read
-- the principals' keys and count evaluations and nothing else. Neither login
-- role owns an object or is a member of the owner (the role that runs these
-- migrations), so neither can `SET ROLE` to it, disable a trigger, or undo a
-- REVOKE. The login roles are created without a password: the operator sets
-- one (`ALTER ROLE registry_api PASSWORD …`), or grants `registry_app` /
-- `registry_keyservice_app` to login roles of their own naming instead.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'registry_keyservice_app') THEN
        CREATE ROLE registry_keyservice_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'registry_api') THEN
        CREATE ROLE registry_api LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'registry_keyservice') THEN
        CREATE ROLE registry_keyservice LOGIN;
    END IF;
END
$$;

-- The grant holders never log in themselves.
ALTER ROLE registry_app NOLOGIN;
ALTER ROLE registry_keyservice_app NOLOGIN;

GRANT registry_app TO registry_api;
GRANT registry_keyservice_app TO registry_keyservice;

-- Nobody but the owner creates objects in the schema: a login role that could
-- create a table would own it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO registry_keyservice_app;
GRANT SELECT ON principals, principal_keys TO registry_keyservice_app;
GRANT SELECT, INSERT, UPDATE ON keyservice_usage TO registry_keyservice_app;

-- Both processes check at start that the schema is current, without the
-- right to change it.
GRANT SELECT ON schema_migrations TO registry_app, registry_keyservice_app;
