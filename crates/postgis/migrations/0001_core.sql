-- geoconsole on PostGIS, schema version 1: the dataset catalog, alerting, feeds, accounts and the audit log.
-- Feature tables are made per dataset by the store (one table per dataset, named by its id). Runs with
-- search_path set to the console's schema, inside one transaction.

CREATE TABLE gc_datasets (
  id text PRIMARY KEY,
  title text NOT NULL,
  kind text NOT NULL,
  geometry_type text NOT NULL,
  time_start_field text,
  time_end_field text,
  id_field text,
  -- The console's typed schema as JSON text (text, not jsonb: field order is the column order users see).
  schema text NOT NULL,
  source text NOT NULL,
  version bigint NOT NULL,
  feature_count bigint NOT NULL,
  min_x double precision, min_y double precision, max_x double precision, max_y double precision,
  time_start timestamptz, time_end timestamptz,
  created timestamptz NOT NULL,
  updated timestamptz NOT NULL
);

CREATE TABLE gc_rules (
  id text PRIMARY KEY,
  definition text NOT NULL,
  created timestamptz NOT NULL,
  updated timestamptz NOT NULL
);
CREATE TABLE gc_rule_marks (
  rule text NOT NULL,
  dataset text NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (rule, dataset)
);
CREATE TABLE gc_alerts (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key text NOT NULL UNIQUE,
  rule text NOT NULL,
  severity text NOT NULL,
  title text NOT NULL,
  site_dataset text, site text, event_dataset text, event text,
  lon double precision, lat double precision,
  detail text NOT NULL,
  raised timestamptz NOT NULL,
  state text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  disposition text,
  acknowledged_by text, acknowledged_at timestamptz,
  resolved_by text, resolved_at timestamptz,
  note text
);
CREATE INDEX gc_alerts_state ON gc_alerts (state, seq);
CREATE TABLE gc_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_seq bigint NOT NULL REFERENCES gc_alerts (seq),
  target text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt timestamptz NOT NULL,
  last_error text,
  delivered_at timestamptz,
  UNIQUE (alert_seq, target)
);
CREATE INDEX gc_deliveries_due ON gc_deliveries (state, next_attempt);

CREATE TABLE gc_feeds (
  name text PRIMARY KEY,
  definition text NOT NULL,
  state text NOT NULL DEFAULT '{}',
  created timestamptz NOT NULL,
  updated timestamptz NOT NULL
);
CREATE TABLE gc_feed_items (
  feed text NOT NULL,
  item text NOT NULL,
  fingerprint text NOT NULL,
  seen timestamptz NOT NULL,
  PRIMARY KEY (feed, item)
);

CREATE TABLE gc_users (
  name text PRIMARY KEY,
  role text NOT NULL,
  password_hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  datasets text,
  created timestamptz NOT NULL,
  updated timestamptz NOT NULL
);
CREATE TABLE gc_tokens (
  id text PRIMARY KEY,
  "user" text NOT NULL,
  label text NOT NULL,
  secret_hash text NOT NULL,
  scope text NOT NULL,
  datasets text,
  created timestamptz NOT NULL,
  expires timestamptz,
  revoked timestamptz,
  last_used timestamptz
);
CREATE INDEX gc_tokens_user ON gc_tokens ("user");
CREATE TABLE gc_sessions (
  id_hash text PRIMARY KEY,
  "user" text NOT NULL,
  csrf text NOT NULL,
  created timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  expires timestamptz NOT NULL
);
CREATE INDEX gc_sessions_user ON gc_sessions ("user");
CREATE TABLE gc_audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  outcome text NOT NULL,
  source text NOT NULL,
  detail text NOT NULL
);
CREATE INDEX gc_audit_at ON gc_audit (at);
CREATE INDEX gc_audit_actor ON gc_audit (actor, seq);
-- Append-only below the API too: an UPDATE, DELETE or TRUNCATE by any client is refused.
CREATE FUNCTION gc_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER gc_audit_no_update BEFORE UPDATE OR DELETE ON gc_audit
  FOR EACH ROW EXECUTE FUNCTION gc_audit_append_only();
CREATE TRIGGER gc_audit_no_truncate BEFORE TRUNCATE ON gc_audit
  FOR EACH STATEMENT EXECUTE FUNCTION gc_audit_append_only();
