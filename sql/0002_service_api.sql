-- Starting sagas from other services: SQL functions a service calls inside its own
-- transaction, and the tokens of the HTTP API (`sagactl serve`).

-- UUIDv7 in plain SQL (PostgreSQL 15 has no uuidv7()): the 48-bit Unix time in
-- milliseconds over the first six bytes of a random v4 UUID, then the version nibble
-- turned from 4 (0100) into 7 (0111) by setting two bits.
CREATE FUNCTION {{schema}}.uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

-- What `sagactl saga start` does, in SQL: a pending saga on the latest (or given)
-- version, its deadline from the definition's timeout, a saga.created event, and the
-- NOTIFYs that wake workers and monitors, which PostgreSQL delivers only on commit.
-- SQLSTATEs of its own (class SG), listed in the README:
--   SG001 unknown definition, SG002 unknown version, SG003 key used by another definition.
-- SECURITY DEFINER with a fixed search_path: a role with EXECUTE on this function alone
-- can start sagas without any right on the tables.
CREATE FUNCTION {{schema}}.start_saga(definition text, input jsonb DEFAULT '{}'::jsonb, key text DEFAULT NULL, version integer DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = {{schema}}, pg_temp
AS $$
DECLARE
  def_version integer;
  def_timeout bigint;
  saga_id uuid;
  found_definition text;
  latest integer;
BEGIN
  IF start_saga.definition IS NULL THEN
    RAISE EXCEPTION 'start_saga: definition must not be null' USING ERRCODE = '22004';
  END IF;
  SELECT d.version, (d.spec->>'timeout')::bigint INTO def_version, def_timeout
    FROM definitions d
   WHERE d.name = start_saga.definition AND (start_saga.version IS NULL OR d.version = start_saga.version)
   ORDER BY d.version DESC LIMIT 1;
  IF def_version IS NULL THEN
    IF start_saga.version IS NULL THEN
      RAISE EXCEPTION 'definition "%" not found', start_saga.definition
        USING ERRCODE = 'SG001', HINT = 'apply it first: sagactl def apply <file>';
    END IF;
    SELECT max(d.version) INTO latest FROM definitions d WHERE d.name = start_saga.definition;
    IF latest IS NULL THEN
      RAISE EXCEPTION 'definition "%" not found', start_saga.definition
        USING ERRCODE = 'SG001', HINT = 'apply it first: sagactl def apply <file>';
    END IF;
    RAISE EXCEPTION 'definition "%" has no version % (latest is %)', start_saga.definition, start_saga.version, latest
      USING ERRCODE = 'SG002';
  END IF;

  INSERT INTO sagas (id, definition, version, status, input, idempotency_key, due_at, deadline_at)
  VALUES (uuid_v7(), start_saga.definition, def_version, 'pending', COALESCE(start_saga.input, 'null'::jsonb), start_saga.key, now(),
          CASE WHEN def_timeout IS NOT NULL THEN now() + def_timeout * interval '1 millisecond' END)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id INTO saga_id;

  IF saga_id IS NULL THEN
    -- The key was used before. A concurrent caller with the same key made this INSERT
    -- wait for its commit; this statement's new snapshot sees its row.
    SELECT s.id, s.definition INTO saga_id, found_definition FROM sagas s WHERE s.idempotency_key = start_saga.key;
    IF saga_id IS NULL THEN
      RAISE EXCEPTION 'saga with key "%" could be neither inserted nor read', start_saga.key USING ERRCODE = '40001';
    END IF;
    IF found_definition <> start_saga.definition THEN
      RAISE EXCEPTION 'key "%" already started saga % of definition "%"', start_saga.key, saga_id, found_definition
        USING ERRCODE = 'SG003';
    END IF;
    RETURN saga_id;
  END IF;

  INSERT INTO events (saga_id, type, data) VALUES (saga_id, 'saga.created', jsonb_build_object('key', start_saga.key));
  -- A transaction that NOTIFYs holds a database-wide lock through its commit, so
  -- notifying starts commit one at a time. Only the start holding this lock notifies;
  -- one that finds it taken commits alongside a notifying start whose wake-up is on its
  -- way, and a worker that still misses it finds it by its next claim or poll.
  IF pg_try_advisory_xact_lock(hashtext('sagactl.notify'), hashtext(current_schema())) THEN
    PERFORM pg_notify(current_schema() || '_events',
              json_build_object('count', 1, 'changes', json_build_array(json_build_object('id', saga_id, 'status', 'pending', 'event', 'saga.created', 'step', NULL)))::text),
            pg_notify(current_schema() || '_work', '');
  END IF;
  RETURN saga_id;
END
$$;

-- The saga's status, NULL when there is no such saga.
CREATE FUNCTION {{schema}}.saga_status(id uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = {{schema}}, pg_temp
AS $$
  SELECT s.status FROM sagas s WHERE s.id = saga_status.id
$$;

-- Functions are executable by PUBLIC by default; these run with the owner's rights, so
-- only the roles the README's GRANTs name may call them.
REVOKE EXECUTE ON FUNCTION {{schema}}.start_saga(text, jsonb, text, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION {{schema}}.saga_status(uuid) FROM PUBLIC;

-- Bearer tokens of the HTTP API. Only a SHA-256 of the token is kept: a stolen table
-- does not let anyone in.
CREATE TABLE {{schema}}.api_tokens (
  name         text        NOT NULL PRIMARY KEY,
  role         text        NOT NULL CHECK (role IN ('read', 'start', 'operate')),
  token_hash   text        NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  created_by   text        NOT NULL,
  last_used_at timestamptz
);
