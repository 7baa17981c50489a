-- Deleting a finished saga (`sagactl saga delete`). Its start key stays reserved, so a
-- service that starts again with the key it used before gets an error, never a second
-- saga of the same business operation. The audit row of the delete is kept in audit_log
-- (no foreign key to sagas), like every other operator action. Also an index for
-- `audit list --since`.
CREATE TABLE {{schema}}.deleted_keys (
  idempotency_key text        NOT NULL PRIMARY KEY,
  saga_id         uuid        NOT NULL,
  definition      text        NOT NULL,
  deleted_at      timestamptz NOT NULL DEFAULT now(),
  deleted_by      text        NOT NULL
);

-- SQLSTATE SG004 when the key belonged to a deleted saga. Called by start_saga()
-- before it writes anything, and by the trigger below after every insert of a saga.
CREATE FUNCTION {{schema}}.refuse_deleted_key(key text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = {{schema}}, pg_temp
AS $$
DECLARE
  gone deleted_keys%ROWTYPE;
BEGIN
  SELECT * INTO gone FROM deleted_keys d WHERE d.idempotency_key = refuse_deleted_key.key;
  IF FOUND THEN
    RAISE EXCEPTION 'key "%" belonged to saga %, deleted at % by %', gone.idempotency_key, gone.saga_id,
        to_char(gone.deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), gone.deleted_by
      USING ERRCODE = 'SG004', HINT = 'a start key is never used again: start with a new key';
  END IF;
END
$$;

-- Every way of inserting a saga (the engine's start, start_saga(), a fork) passes this
-- check, as a trigger after the row is written: an INSERT racing the delete of the saga
-- that held its key waits on the key's unique index until the delete commits, and only
-- a query that runs after that wait sees the new reserved key. A VOLATILE function's
-- queries take a fresh snapshot each, so this one does.
CREATE FUNCTION {{schema}}.sagas_refuse_deleted_key() RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = {{schema}}, pg_temp
AS $$
BEGIN
  PERFORM refuse_deleted_key(NEW.idempotency_key);
  RETURN NULL;
END
$$;

CREATE TRIGGER sagas_refuse_deleted_key AFTER INSERT ON {{schema}}.sagas
  FOR EACH ROW WHEN (NEW.idempotency_key IS NOT NULL) EXECUTE FUNCTION {{schema}}.sagas_refuse_deleted_key();

-- start_saga() as in 0002, but a key that belonged to a deleted saga is refused with
-- SG004 before anything is written (the trigger above still closes the race with a
-- delete committing meanwhile).
CREATE OR REPLACE FUNCTION {{schema}}.start_saga(definition text, input jsonb DEFAULT '{}'::jsonb, key text DEFAULT NULL, version integer DEFAULT NULL)
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

  IF start_saga.key IS NOT NULL THEN
    PERFORM refuse_deleted_key(start_saga.key);
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
  -- Notifying transactions commit one at a time: only the start holding this lock notifies (see 0002).
  IF pg_try_advisory_xact_lock(hashtext('sagactl.notify'), hashtext(current_schema())) THEN
    PERFORM pg_notify(current_schema() || '_events',
              json_build_object('count', 1, 'changes', json_build_array(json_build_object('id', saga_id, 'status', 'pending', 'event', 'saga.created', 'step', NULL)))::text),
            pg_notify(current_schema() || '_work', '');
  END IF;
  RETURN saga_id;
END
$$;

-- `audit list --since`: a period of the audit log without walking every older row.
CREATE INDEX audit_log_at ON {{schema}}.audit_log (at);
