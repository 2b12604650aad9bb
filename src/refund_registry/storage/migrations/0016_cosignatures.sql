-- Witness cosignatures of the access log's checkpoints (c2sp.org/tlog-cosignature).
--
-- One row per checkpoint and witness: the signature line the witness returned,
-- checked against the witness's key before it is stored. Append-only, like the
-- checkpoints themselves. `size` names a row of `checkpoints` (the collector
-- stores cosignatures of stored checkpoints only); it is not a foreign key, so
-- that TRUNCATE on `checkpoints` meets the append-only trigger, not a
-- constraint.

CREATE TABLE checkpoint_cosignatures (
    size         bigint NOT NULL,
    witness      text NOT NULL CHECK (length(witness) BETWEEN 1 AND 500),
    line         text NOT NULL CHECK (length(line) BETWEEN 1 AND 1000),
    cosigned_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (size, witness)
);
CREATE INDEX checkpoint_cosignatures_witness ON checkpoint_cosignatures (witness, size);

REVOKE UPDATE, DELETE, TRUNCATE ON checkpoint_cosignatures FROM registry_app;
CREATE TRIGGER checkpoint_cosignatures_append_only BEFORE UPDATE OR DELETE
    ON checkpoint_cosignatures FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER checkpoint_cosignatures_no_truncate BEFORE TRUNCATE
    ON checkpoint_cosignatures FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

GRANT SELECT, INSERT ON checkpoint_cosignatures TO registry_app;
