-- The access log: every request that touches a buyer's record.
--
-- `entry` holds the exact bytes that become a Merkle leaf; `leaf_hash` is
-- SHA-256(0x00 || entry). Entries name subjects only through salted
-- commitments (SHA-256(salt || subject key)); the salt and the subject key sit
-- in `access_subjects`, which retention may delete, unlinking an old entry
-- from the buyer without breaking a single hash of the log.

CREATE TABLE access_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at              timestamptz NOT NULL,
    actor           text NOT NULL,
    role            text NOT NULL,
    action          text NOT NULL,
    purpose         text,
    outcome         text,
    query_id        text,
    request_digest  text NOT NULL,
    entry           bytea NOT NULL,
    leaf_hash       bytea NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE UNIQUE INDEX access_log_leaf ON access_log (leaf_hash);
CREATE INDEX access_log_order ON access_log (txid, id);
CREATE INDEX access_log_actor ON access_log (actor, at);
CREATE INDEX access_log_action ON access_log (action, at);

CREATE TABLE access_subjects (
    subject_key  bytea NOT NULL,
    leaf_hash    bytea NOT NULL,
    salt         bytea NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (subject_key, leaf_hash)
);
CREATE INDEX access_subjects_at ON access_subjects (at);

-- The Merkle tree over the access log: contiguous leaf indices assigned by the
-- one sequencer, the hashes of complete subtrees, and signed checkpoints.
CREATE TABLE log_leaves (
    idx        bigint PRIMARY KEY,
    entry_id   bigint NOT NULL UNIQUE,
    txid       xid8 NOT NULL,
    leaf_hash  bytea NOT NULL
);
CREATE TABLE log_nodes (
    level  smallint NOT NULL,
    idx    bigint NOT NULL,
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
    size     bigint PRIMARY KEY,
    root     bytea NOT NULL,
    note     text NOT NULL,
    at       timestamptz NOT NULL
);

REVOKE UPDATE, DELETE, TRUNCATE ON access_log, log_leaves, log_nodes, checkpoints
    FROM registry_app;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_leaves_append_only BEFORE UPDATE OR DELETE ON log_leaves
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_leaves_no_truncate BEFORE TRUNCATE ON log_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_nodes_append_only BEFORE UPDATE OR DELETE ON log_nodes
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_nodes_no_truncate BEFORE TRUNCATE ON log_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

GRANT SELECT, INSERT ON access_log, log_leaves, log_nodes, checkpoints TO registry_app;
GRANT SELECT, INSERT, DELETE ON access_subjects TO registry_app;
