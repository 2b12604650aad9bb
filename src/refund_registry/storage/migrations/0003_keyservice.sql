-- Key service: how many OPRF evaluations each member asked for, per UTC day.
--
-- Every evaluation is one guess at an identifier, so this is the record that
-- shows a member enumerating phone numbers. Counts only grow: the application
-- role may insert and add to a row, never lower or delete one.

CREATE TABLE keyservice_usage (
    member_id    text NOT NULL REFERENCES principals (id),
    day          date NOT NULL,
    requests     bigint NOT NULL CHECK (requests > 0),
    evaluations  bigint NOT NULL CHECK (evaluations > 0),
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL CHECK (last_at >= first_at),
    PRIMARY KEY (member_id, day)
);

-- The default privileges of 0001 would include DELETE; counts are evidence.
REVOKE DELETE, TRUNCATE ON keyservice_usage FROM registry_app;
GRANT SELECT, INSERT, UPDATE ON keyservice_usage TO registry_app;

CREATE FUNCTION keyservice_usage_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.member_id <> OLD.member_id OR NEW.day <> OLD.day
       OR NEW.requests < OLD.requests OR NEW.evaluations < OLD.evaluations THEN
        RAISE EXCEPTION 'keyservice_usage counts only grow'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER keyservice_usage_grows BEFORE UPDATE ON keyservice_usage
    FOR EACH ROW EXECUTE FUNCTION keyservice_usage_only_grows();
