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

-- Every way of inserting a saga (the engine's start, start_saga() from 0002, a fork) passes this
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

-- `audit list --since`: a period of the audit log without walking every older row.
CREATE INDEX audit_log_at ON {{schema}}.audit_log (at);
