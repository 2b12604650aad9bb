-- The schema that storage/migrations/ produces, as pg_dump --schema-only prints it
-- (normalised). Generated: do not edit. After adding a migration, regenerate with
--     UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/integration/test_schema_snapshot.py
-- A test fails when this file and the migrations disagree.

CREATE FUNCTION public.keyservice_usage_only_grows() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.member_id <> OLD.member_id OR NEW.day <> OLD.day
       OR NEW.requests < OLD.requests OR NEW.evaluations < OLD.evaluations THEN
        RAISE EXCEPTION 'keyservice_usage counts only grow'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION public.notify_key_row() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('registry_principals', NEW.principal_id);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.notify_organisation_row() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('registry_principals', NEW.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.notify_principal_row() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('registry_principals', NEW.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION public.org_usage_only_grows() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.org_id <> OLD.org_id OR NEW.day <> OLD.day OR NEW.kind <> OLD.kind
       OR NEW.units < OLD.units THEN
        RAISE EXCEPTION 'org_usage counts only grow'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION public.principal_own_organisation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.org_id IS NULL THEN
        INSERT INTO organisations (id) VALUES (NEW.id) ON CONFLICT (id) DO NOTHING;
        NEW.org_id := NEW.id;
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION public.refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE public.access_log (
    id bigint NOT NULL,
    txid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    purpose text,
    outcome text,
    query_id text,
    request_digest text NOT NULL,
    entry bytea NOT NULL,
    leaf_hash bytea NOT NULL,
    CONSTRAINT access_log_leaf_hash_check CHECK ((length(leaf_hash) = 32))
);

ALTER TABLE public.access_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.access_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.access_subjects (
    subject_key bytea NOT NULL,
    leaf_hash bytea NOT NULL,
    salt bytea NOT NULL,
    at timestamp with time zone NOT NULL
);

CREATE TABLE public.appeals (
    id text NOT NULL,
    report_id text NOT NULL,
    member_id text NOT NULL,
    filed_via text,
    subject_keys bytea[] NOT NULL,
    grounds text NOT NULL,
    statement text NOT NULL,
    state text DEFAULT 'awaiting_member'::text NOT NULL,
    member_summary text,
    decision_rationale text,
    closed_reason text,
    filed_at timestamp with time zone NOT NULL,
    member_response_due timestamp with time zone,
    decision_due timestamp with time zone NOT NULL,
    answered_at timestamp with time zone,
    decided_at timestamp with time zone,
    version integer DEFAULT 0 NOT NULL,
    withdrawn_via text,
    CONSTRAINT appeals_check1 CHECK (((state = ANY (ARRAY['awaiting_member'::text, 'awaiting_adjudication'::text])) = (decided_at IS NULL))),
    CONSTRAINT appeals_check2 CHECK (((state <> 'awaiting_adjudication'::text) OR (member_summary IS NOT NULL))),
    CONSTRAINT appeals_deadlines_check CHECK (((filed_at < decision_due) AND ((member_response_due IS NULL) OR ((filed_at < member_response_due) AND (member_response_due < decision_due))))),
    CONSTRAINT appeals_decision_rationale_check CHECK (((length(decision_rationale) >= 1) AND (length(decision_rationale) <= 2000))),
    CONSTRAINT appeals_grounds_check CHECK ((grounds = ANY (ARRAY['not_me'::text, 'goods_really_defective'::text, 'already_resolved'::text, 'other'::text, 'new_evidence'::text]))),
    CONSTRAINT appeals_member_summary_check CHECK (((length(member_summary) >= 1) AND (length(member_summary) <= 2000))),
    CONSTRAINT appeals_new_evidence_check CHECK (((grounds = 'new_evidence'::text) = (member_response_due IS NULL))),
    CONSTRAINT appeals_state_check CHECK ((state = ANY (ARRAY['awaiting_member'::text, 'awaiting_adjudication'::text, 'upheld'::text, 'overturned'::text, 'withdrawn'::text]))),
    CONSTRAINT appeals_statement_check CHECK (((length(statement) >= 1) AND (length(statement) <= 2000))),
    CONSTRAINT appeals_withdrawn_via_check CHECK (((withdrawn_via IS NULL) OR (state = 'withdrawn'::text)))
);

CREATE TABLE public.buyer_codes (
    subject_key bytea NOT NULL,
    digest bytea NOT NULL,
    issued_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    tries smallint DEFAULT 0 NOT NULL,
    CONSTRAINT buyer_codes_check CHECK ((expires_at > issued_at)),
    CONSTRAINT buyer_codes_digest_check CHECK ((length(digest) = 32)),
    CONSTRAINT buyer_codes_subject_key_check CHECK ((length(subject_key) = 32)),
    CONSTRAINT buyer_codes_tries_check CHECK (((tries >= 0) AND (tries <= 5)))
);

CREATE TABLE public.buyer_handoffs (
    issuer text NOT NULL,
    jti text NOT NULL,
    used_at timestamp with time zone NOT NULL,
    keep_until timestamp with time zone NOT NULL,
    CONSTRAINT buyer_handoffs_jti_check CHECK (((length(jti) >= 8) AND (length(jti) <= 128)))
);

CREATE TABLE public.buyer_sessions (
    id text NOT NULL,
    digest bytea NOT NULL,
    subject_keys bytea[] NOT NULL,
    via_member text,
    created_at timestamp with time zone NOT NULL,
    last_seen_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT buyer_sessions_check CHECK ((last_seen_at >= created_at)),
    CONSTRAINT buyer_sessions_check1 CHECK ((expires_at > created_at)),
    CONSTRAINT buyer_sessions_digest_check CHECK ((length(digest) = 32)),
    CONSTRAINT buyer_sessions_subject_keys_check CHECK (((cardinality(subject_keys) >= 1) AND (cardinality(subject_keys) <= 10)))
);

CREATE TABLE public.checkpoint_cosignatures (
    size bigint NOT NULL,
    witness text NOT NULL,
    line text NOT NULL,
    cosigned_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone NOT NULL,
    CONSTRAINT checkpoint_cosignatures_line_check CHECK (((length(line) >= 1) AND (length(line) <= 1000))),
    CONSTRAINT checkpoint_cosignatures_witness_check CHECK (((length(witness) >= 1) AND (length(witness) <= 500)))
);

CREATE TABLE public.checkpoints (
    size bigint NOT NULL,
    root bytea NOT NULL,
    note text NOT NULL,
    at timestamp with time zone NOT NULL
);

CREATE TABLE public.events (
    id bigint NOT NULL,
    txid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    at timestamp with time zone NOT NULL,
    type text NOT NULL,
    member_id text,
    report_id text,
    appeal_id text,
    data jsonb DEFAULT '{}'::jsonb NOT NULL
);

ALTER TABLE public.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.keyservice_usage (
    member_id text NOT NULL,
    day date NOT NULL,
    requests bigint NOT NULL,
    evaluations bigint NOT NULL,
    first_at timestamp with time zone NOT NULL,
    last_at timestamp with time zone NOT NULL,
    CONSTRAINT keyservice_usage_check CHECK ((last_at >= first_at)),
    CONSTRAINT keyservice_usage_evaluations_check CHECK ((evaluations > 0)),
    CONSTRAINT keyservice_usage_requests_check CHECK ((requests > 0))
);

CREATE TABLE public.log_leaves (
    idx bigint NOT NULL,
    entry_id bigint NOT NULL,
    txid xid8 NOT NULL,
    leaf_hash bytea NOT NULL
);

CREATE TABLE public.log_nodes (
    level smallint NOT NULL,
    idx bigint NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT log_nodes_hash_check CHECK ((length(hash) = 32))
);

CREATE TABLE public.org_usage (
    org_id text NOT NULL,
    day date NOT NULL,
    kind text NOT NULL,
    units bigint NOT NULL,
    CONSTRAINT org_usage_kind_check CHECK ((kind = ANY (ARRAY['evaluation'::text, 'query'::text]))),
    CONSTRAINT org_usage_units_check CHECK ((units > 0))
);

CREATE TABLE public.organisations (
    id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    evaluations_per_day bigint,
    queries_per_day bigint,
    quota_changed_at timestamp with time zone,
    quota_above_ceiling boolean DEFAULT false NOT NULL,
    CONSTRAINT organisations_evaluations_per_day_check CHECK ((evaluations_per_day > 0)),
    CONSTRAINT organisations_id_check CHECK (((length(id) >= 1) AND (length(id) <= 64))),
    CONSTRAINT organisations_queries_per_day_check CHECK ((queries_per_day > 0))
);

CREATE TABLE public.principal_keys (
    kid text NOT NULL,
    principal_id text NOT NULL,
    alg text NOT NULL,
    public_key_pem text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT principal_keys_alg_check CHECK ((alg = ANY (ARRAY['EdDSA'::text, 'ES256'::text])))
);

CREATE TABLE public.principals (
    id text NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    org_id text NOT NULL,
    CONSTRAINT principals_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT principals_role_check CHECK ((role = ANY (ARRAY['member'::text, 'adjudicator'::text, 'auditor'::text, 'admin'::text, 'portal'::text]))),
    CONSTRAINT principals_status_check CHECK ((status = ANY (ARRAY['active'::text, 'suspended'::text, 'revoked'::text])))
);

CREATE TABLE public.reports (
    id text NOT NULL,
    member_id text NOT NULL,
    case_reference text NOT NULL,
    request_hash bytea NOT NULL,
    category text NOT NULL,
    amount_minor bigint NOT NULL,
    currency character(3) NOT NULL,
    order_date date NOT NULL,
    refund_date date NOT NULL,
    confirmed_at timestamp with time zone NOT NULL,
    buyer_notified_at timestamp with time zone NOT NULL,
    filed_at timestamp with time zone NOT NULL,
    evidence_kinds text[] NOT NULL,
    evidence_digest bytea NOT NULL,
    identifier_kinds text[] NOT NULL,
    subject_keys bytea[] NOT NULL,
    key_version smallint NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    status_changed_at timestamp with time zone NOT NULL,
    status_reason text,
    expires_at timestamp with time zone NOT NULL,
    receipt jsonb,
    CONSTRAINT reports_amount_minor_check CHECK ((amount_minor > 0)),
    CONSTRAINT reports_case_reference_check CHECK (((length(case_reference) >= 1) AND (length(case_reference) <= 128))),
    CONSTRAINT reports_category_check CHECK ((category = ANY (ARRAY['ai_forged_evidence'::text, 'fabricated_damage_claim'::text, 'empty_box_or_switched_return'::text, 'false_not_received_claim'::text, 'refund_only_abuse'::text, 'chargeback_fraud'::text, 'other'::text]))),
    CONSTRAINT reports_check CHECK ((refund_date >= order_date)),
    CONSTRAINT reports_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT reports_evidence_digest_check CHECK ((length(evidence_digest) = 32)),
    CONSTRAINT reports_status_check CHECK ((status = ANY (ARRAY['active'::text, 'disputed'::text, 'retracted'::text, 'overturned'::text, 'expired'::text])))
);

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.staff_links (
    digest bytea NOT NULL,
    principal_id text NOT NULL,
    issued_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT staff_links_check CHECK ((expires_at > issued_at)),
    CONSTRAINT staff_links_check1 CHECK ((used_at >= issued_at)),
    CONSTRAINT staff_links_digest_check CHECK ((length(digest) = 32))
);

CREATE TABLE public.staff_oidc_logins (
    state text NOT NULL,
    binding bytea NOT NULL,
    nonce text NOT NULL,
    code_verifier text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT staff_oidc_logins_binding_check CHECK ((length(binding) = 32)),
    CONSTRAINT staff_oidc_logins_check CHECK ((expires_at > created_at)),
    CONSTRAINT staff_oidc_logins_code_verifier_check CHECK (((length(code_verifier) >= 43) AND (length(code_verifier) <= 128))),
    CONSTRAINT staff_oidc_logins_nonce_check CHECK (((length(nonce) >= 16) AND (length(nonce) <= 128))),
    CONSTRAINT staff_oidc_logins_state_check CHECK (((length(state) >= 16) AND (length(state) <= 128)))
);

CREATE TABLE public.staff_oidc_subjects (
    issuer text NOT NULL,
    subject text NOT NULL,
    principal_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT staff_oidc_subjects_issuer_check CHECK (((length(issuer) >= 1) AND (length(issuer) <= 500))),
    CONSTRAINT staff_oidc_subjects_subject_check CHECK (((length(subject) >= 1) AND (length(subject) <= 255)))
);

CREATE TABLE public.staff_sessions (
    id text NOT NULL,
    digest bytea NOT NULL,
    principal_id text NOT NULL,
    method text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    last_seen_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT staff_sessions_check CHECK ((last_seen_at >= created_at)),
    CONSTRAINT staff_sessions_check1 CHECK ((expires_at > created_at)),
    CONSTRAINT staff_sessions_digest_check CHECK ((length(digest) = 32)),
    CONSTRAINT staff_sessions_method_check CHECK ((method = ANY (ARRAY['link'::text, 'oidc'::text])))
);

CREATE TABLE public.subject_aggregates (
    subject_key bytea NOT NULL,
    kind text NOT NULL,
    active_reports integer DEFAULT 0 NOT NULL,
    disputed integer DEFAULT 0 NOT NULL,
    platforms integer DEFAULT 0 NOT NULL,
    latest_confirmed_at timestamp with time zone,
    facts jsonb DEFAULT '[]'::jsonb NOT NULL,
    statement text,
    version bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT subject_aggregates_statement_check CHECK ((length(statement) <= 200)),
    CONSTRAINT subject_aggregates_subject_key_check CHECK ((length(subject_key) = 32))
);

CREATE TABLE public.used_jtis (
    key text NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE public.webhook_deliveries (
    id bigint NOT NULL,
    webhook_id text NOT NULL,
    event_cursor text NOT NULL,
    attempt integer NOT NULL,
    at timestamp with time zone NOT NULL,
    status_code integer,
    error text,
    outcome text NOT NULL,
    next_attempt_at timestamp with time zone,
    duration_ms integer NOT NULL,
    CONSTRAINT webhook_deliveries_attempt_check CHECK ((attempt >= 1)),
    CONSTRAINT webhook_deliveries_check CHECK (((status_code IS NULL) <> (error IS NULL))),
    CONSTRAINT webhook_deliveries_check1 CHECK (((outcome = 'retry'::text) = (next_attempt_at IS NOT NULL))),
    CONSTRAINT webhook_deliveries_duration_ms_check CHECK ((duration_ms >= 0)),
    CONSTRAINT webhook_deliveries_error_check CHECK (((length(error) >= 1) AND (length(error) <= 64))),
    CONSTRAINT webhook_deliveries_event_cursor_check CHECK (((length(event_cursor) >= 3) AND (length(event_cursor) <= 64))),
    CONSTRAINT webhook_deliveries_outcome_check CHECK ((outcome = ANY (ARRAY['delivered'::text, 'retry'::text, 'disabled'::text]))),
    CONSTRAINT webhook_deliveries_status_code_check CHECK (((status_code >= 100) AND (status_code <= 599)))
);

ALTER TABLE public.webhook_deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.webhooks (
    id text NOT NULL,
    member_id text NOT NULL,
    url text NOT NULL,
    secret_sealed bytea NOT NULL,
    previous_sealed bytea,
    previous_until timestamp with time zone,
    status text DEFAULT 'active'::text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    rotated_at timestamp with time zone,
    disabled_at timestamp with time zone,
    disabled_reason text,
    cursor_txid xid8 NOT NULL,
    cursor_id bigint NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    lease_token text,
    lease_until timestamp with time zone,
    CONSTRAINT webhooks_attempt_check CHECK (((attempt >= 0) AND (attempt <= 100))),
    CONSTRAINT webhooks_check CHECK (((previous_sealed IS NULL) = (previous_until IS NULL))),
    CONSTRAINT webhooks_check1 CHECK (((status = 'disabled'::text) = (disabled_at IS NOT NULL))),
    CONSTRAINT webhooks_check2 CHECK (((disabled_at IS NULL) = (disabled_reason IS NULL))),
    CONSTRAINT webhooks_check3 CHECK (((lease_token IS NULL) = (lease_until IS NULL))),
    CONSTRAINT webhooks_disabled_reason_check CHECK ((disabled_reason = ANY (ARRAY['retries_exhausted'::text, 'gone'::text]))),
    CONSTRAINT webhooks_secret_sealed_check CHECK (((length(secret_sealed) >= ((12 + 16) + 24)) AND (length(secret_sealed) <= ((12 + 16) + 64)))),
    CONSTRAINT webhooks_status_check CHECK ((status = ANY (ARRAY['active'::text, 'disabled'::text]))),
    CONSTRAINT webhooks_url_check CHECK (((length(url) >= 1) AND (length(url) <= 2048)))
);

ALTER TABLE ONLY public.access_log
    ADD CONSTRAINT access_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.access_subjects
    ADD CONSTRAINT access_subjects_pkey PRIMARY KEY (subject_key, leaf_hash);

ALTER TABLE ONLY public.appeals
    ADD CONSTRAINT appeals_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.buyer_codes
    ADD CONSTRAINT buyer_codes_pkey PRIMARY KEY (subject_key);

ALTER TABLE ONLY public.buyer_handoffs
    ADD CONSTRAINT buyer_handoffs_pkey PRIMARY KEY (issuer, jti);

ALTER TABLE ONLY public.buyer_sessions
    ADD CONSTRAINT buyer_sessions_digest_key UNIQUE (digest);

ALTER TABLE ONLY public.buyer_sessions
    ADD CONSTRAINT buyer_sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.checkpoint_cosignatures
    ADD CONSTRAINT checkpoint_cosignatures_pkey PRIMARY KEY (size, witness);

ALTER TABLE ONLY public.checkpoints
    ADD CONSTRAINT checkpoints_pkey PRIMARY KEY (size);

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.keyservice_usage
    ADD CONSTRAINT keyservice_usage_pkey PRIMARY KEY (member_id, day);

ALTER TABLE ONLY public.log_leaves
    ADD CONSTRAINT log_leaves_entry_id_key UNIQUE (entry_id);

ALTER TABLE ONLY public.log_leaves
    ADD CONSTRAINT log_leaves_pkey PRIMARY KEY (idx);

ALTER TABLE ONLY public.log_nodes
    ADD CONSTRAINT log_nodes_pkey PRIMARY KEY (level, idx);

ALTER TABLE ONLY public.org_usage
    ADD CONSTRAINT org_usage_pkey PRIMARY KEY (org_id, day, kind);

ALTER TABLE ONLY public.organisations
    ADD CONSTRAINT organisations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.principal_keys
    ADD CONSTRAINT principal_keys_pkey PRIMARY KEY (kid);

ALTER TABLE ONLY public.principals
    ADD CONSTRAINT principals_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_member_id_case_reference_key UNIQUE (member_id, case_reference);

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.staff_links
    ADD CONSTRAINT staff_links_pkey PRIMARY KEY (digest);

ALTER TABLE ONLY public.staff_oidc_logins
    ADD CONSTRAINT staff_oidc_logins_pkey PRIMARY KEY (state);

ALTER TABLE ONLY public.staff_oidc_subjects
    ADD CONSTRAINT staff_oidc_subjects_pkey PRIMARY KEY (issuer, subject);

ALTER TABLE ONLY public.staff_sessions
    ADD CONSTRAINT staff_sessions_digest_key UNIQUE (digest);

ALTER TABLE ONLY public.staff_sessions
    ADD CONSTRAINT staff_sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.subject_aggregates
    ADD CONSTRAINT subject_aggregates_pkey PRIMARY KEY (subject_key);

ALTER TABLE ONLY public.used_jtis
    ADD CONSTRAINT used_jtis_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhooks
    ADD CONSTRAINT webhooks_pkey PRIMARY KEY (id);

CREATE INDEX access_log_action ON public.access_log USING btree (action, at);

CREATE INDEX access_log_actor ON public.access_log USING btree (actor, at);

CREATE UNIQUE INDEX access_log_leaf ON public.access_log USING btree (leaf_hash);

CREATE INDEX access_log_order ON public.access_log USING btree (txid, id);

CREATE INDEX access_subjects_at ON public.access_subjects USING btree (at);

CREATE INDEX appeals_member_queue ON public.appeals USING btree (member_id, ((decided_at IS NOT NULL)), (
CASE
    WHEN (decided_at IS NOT NULL) THEN decided_at
    WHEN (state = 'awaiting_member'::text) THEN COALESCE(member_response_due, decision_due)
    ELSE decision_due
END), id);

CREATE UNIQUE INDEX appeals_one_open_per_report ON public.appeals USING btree (report_id) WHERE (state = ANY (ARRAY['awaiting_member'::text, 'awaiting_adjudication'::text]));

CREATE INDEX appeals_open ON public.appeals USING btree (member_response_due) WHERE (state = ANY (ARRAY['awaiting_member'::text, 'awaiting_adjudication'::text]));

CREATE INDEX appeals_queue ON public.appeals USING btree (((decided_at IS NOT NULL)), (
CASE
    WHEN (decided_at IS NOT NULL) THEN decided_at
    WHEN (state = 'awaiting_member'::text) THEN COALESCE(member_response_due, decision_due)
    ELSE decision_due
END), id);

CREATE INDEX appeals_report ON public.appeals USING btree (report_id);

CREATE INDEX appeals_subjects ON public.appeals USING gin (subject_keys);

CREATE INDEX buyer_codes_expiry ON public.buyer_codes USING btree (expires_at);

CREATE INDEX buyer_handoffs_keep ON public.buyer_handoffs USING btree (keep_until);

CREATE INDEX buyer_sessions_expiry ON public.buyer_sessions USING btree (expires_at);

CREATE INDEX buyer_sessions_idle ON public.buyer_sessions USING btree (last_seen_at);

CREATE INDEX checkpoint_cosignatures_witness ON public.checkpoint_cosignatures USING btree (witness, size);

CREATE INDEX events_appeal ON public.events USING btree (appeal_id) WHERE (appeal_id IS NOT NULL);

CREATE INDEX events_feed ON public.events USING btree (member_id, txid, id);

CREATE INDEX events_report ON public.events USING btree (report_id);

CREATE INDEX principal_keys_principal ON public.principal_keys USING btree (principal_id);

CREATE INDEX principals_org ON public.principals USING btree (org_id);

CREATE INDEX reports_expiring ON public.reports USING btree (expires_at) WHERE (subject_keys <> '{}'::bytea[]);

CREATE INDEX reports_member_filed ON public.reports USING btree (member_id, filed_at, id);

CREATE INDEX reports_subjects ON public.reports USING gin (subject_keys);

CREATE INDEX staff_links_expiry ON public.staff_links USING btree (expires_at);

CREATE INDEX staff_oidc_logins_expiry ON public.staff_oidc_logins USING btree (expires_at);

CREATE INDEX staff_oidc_subjects_principal ON public.staff_oidc_subjects USING btree (principal_id);

CREATE INDEX staff_sessions_expiry ON public.staff_sessions USING btree (expires_at);

CREATE INDEX staff_sessions_principal ON public.staff_sessions USING btree (principal_id);

CREATE INDEX used_jtis_expires_at ON public.used_jtis USING btree (expires_at);

CREATE INDEX webhook_deliveries_at ON public.webhook_deliveries USING btree (at);

CREATE INDEX webhook_deliveries_log ON public.webhook_deliveries USING btree (webhook_id, id);

CREATE INDEX webhooks_due ON public.webhooks USING btree (next_attempt_at) WHERE (status = 'active'::text);

CREATE INDEX webhooks_member ON public.webhooks USING btree (member_id, created_at);

CREATE TRIGGER access_log_append_only BEFORE DELETE OR UPDATE ON public.access_log FOR EACH ROW EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON public.access_log FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER checkpoint_cosignatures_append_only BEFORE DELETE OR UPDATE ON public.checkpoint_cosignatures FOR EACH ROW EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER checkpoint_cosignatures_no_truncate BEFORE TRUNCATE ON public.checkpoint_cosignatures FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER checkpoints_append_only BEFORE DELETE OR UPDATE ON public.checkpoints FOR EACH ROW EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON public.checkpoints FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER events_append_only BEFORE DELETE OR UPDATE ON public.events FOR EACH ROW EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON public.events FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER keyservice_usage_grows BEFORE UPDATE ON public.keyservice_usage FOR EACH ROW EXECUTE FUNCTION public.keyservice_usage_only_grows();

CREATE TRIGGER log_leaves_append_only BEFORE DELETE OR UPDATE ON public.log_leaves FOR EACH ROW EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER log_leaves_no_truncate BEFORE TRUNCATE ON public.log_leaves FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER log_nodes_append_only BEFORE DELETE OR UPDATE ON public.log_nodes FOR EACH ROW EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER log_nodes_no_truncate BEFORE TRUNCATE ON public.log_nodes FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_change();

CREATE TRIGGER org_usage_grows BEFORE UPDATE ON public.org_usage FOR EACH ROW EXECUTE FUNCTION public.org_usage_only_grows();

CREATE TRIGGER organisations_changed AFTER UPDATE ON public.organisations FOR EACH ROW EXECUTE FUNCTION public.notify_organisation_row();

CREATE TRIGGER principal_keys_changed AFTER INSERT OR UPDATE ON public.principal_keys FOR EACH ROW EXECUTE FUNCTION public.notify_key_row();

CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE ON public.principals FOR EACH ROW EXECUTE FUNCTION public.notify_principal_row();

CREATE TRIGGER principals_organisation BEFORE INSERT ON public.principals FOR EACH ROW EXECUTE FUNCTION public.principal_own_organisation();

ALTER TABLE ONLY public.buyer_handoffs
    ADD CONSTRAINT buyer_handoffs_issuer_fkey FOREIGN KEY (issuer) REFERENCES public.principals(id);

ALTER TABLE ONLY public.buyer_sessions
    ADD CONSTRAINT buyer_sessions_via_member_fkey FOREIGN KEY (via_member) REFERENCES public.principals(id);

ALTER TABLE ONLY public.keyservice_usage
    ADD CONSTRAINT keyservice_usage_member_id_fkey FOREIGN KEY (member_id) REFERENCES public.principals(id);

ALTER TABLE ONLY public.org_usage
    ADD CONSTRAINT org_usage_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);

ALTER TABLE ONLY public.principal_keys
    ADD CONSTRAINT principal_keys_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES public.principals(id);

ALTER TABLE ONLY public.principals
    ADD CONSTRAINT principals_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organisations(id);

ALTER TABLE ONLY public.staff_links
    ADD CONSTRAINT staff_links_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES public.principals(id);

ALTER TABLE ONLY public.staff_oidc_subjects
    ADD CONSTRAINT staff_oidc_subjects_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES public.principals(id);

ALTER TABLE ONLY public.staff_sessions
    ADD CONSTRAINT staff_sessions_principal_id_fkey FOREIGN KEY (principal_id) REFERENCES public.principals(id);

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES public.webhooks(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.webhooks
    ADD CONSTRAINT webhooks_member_id_fkey FOREIGN KEY (member_id) REFERENCES public.principals(id);

GRANT USAGE ON SCHEMA public TO registry_app;
GRANT USAGE ON SCHEMA public TO registry_keyservice_app;

GRANT SELECT,INSERT ON TABLE public.access_log TO registry_app;

GRANT SELECT,USAGE ON SEQUENCE public.access_log_id_seq TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.access_subjects TO registry_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.appeals TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.buyer_codes TO registry_app;

GRANT SELECT,INSERT,DELETE ON TABLE public.buyer_handoffs TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.buyer_sessions TO registry_app;

GRANT SELECT,INSERT ON TABLE public.checkpoint_cosignatures TO registry_app;

GRANT SELECT,INSERT ON TABLE public.checkpoints TO registry_app;

GRANT SELECT,INSERT ON TABLE public.events TO registry_app;

GRANT SELECT,USAGE ON SEQUENCE public.events_id_seq TO registry_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.keyservice_usage TO registry_app;
GRANT SELECT,INSERT,UPDATE ON TABLE public.keyservice_usage TO registry_keyservice_app;

GRANT SELECT,INSERT ON TABLE public.log_leaves TO registry_app;

GRANT SELECT,INSERT ON TABLE public.log_nodes TO registry_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.org_usage TO registry_app;
GRANT SELECT,INSERT,UPDATE ON TABLE public.org_usage TO registry_keyservice_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.organisations TO registry_app;
GRANT SELECT ON TABLE public.organisations TO registry_keyservice_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.principal_keys TO registry_app;
GRANT SELECT ON TABLE public.principal_keys TO registry_keyservice_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.principals TO registry_app;
GRANT SELECT ON TABLE public.principals TO registry_keyservice_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.reports TO registry_app;

GRANT SELECT ON TABLE public.schema_migrations TO registry_app;
GRANT SELECT ON TABLE public.schema_migrations TO registry_keyservice_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.staff_links TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.staff_oidc_logins TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.staff_oidc_subjects TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.staff_sessions TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.subject_aggregates TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.used_jtis TO registry_app;
GRANT SELECT,INSERT ON TABLE public.used_jtis TO registry_keyservice_app;

GRANT SELECT,INSERT,DELETE ON TABLE public.webhook_deliveries TO registry_app;

GRANT SELECT,USAGE ON SEQUENCE public.webhook_deliveries_id_seq TO registry_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.webhooks TO registry_app;

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT,USAGE ON SEQUENCES TO registry_app;

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT,INSERT,DELETE,UPDATE ON TABLES TO registry_app;
