-- Business identity and history repair.
-- tags: what the business calls the saga (`saga start --tag region=eu`); a default, so
-- every existing way of inserting a saga keeps working unchanged.
-- Both GIN indexes use jsonb_path_ops: they serve only containment (@>), which is what
-- `--tag` and `--where input.a.b=v` ask, at about a third of the size of the default
-- operator class. Neither column changes after the saga is created (except by an
-- operator's `retry --input`), so transitions stay HOT updates.
ALTER TABLE {{schema}}.sagas ADD COLUMN tags jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE {{schema}}.sagas ADD COLUMN forked_from uuid;
CREATE INDEX sagas_tags ON {{schema}}.sagas USING gin (tags jsonb_path_ops);
CREATE INDEX sagas_input ON {{schema}}.sagas USING gin (input jsonb_path_ops);
CREATE INDEX sagas_forked_from ON {{schema}}.sagas (forked_from) WHERE forked_from IS NOT NULL;

-- How many times an operator has sent this step round again (`saga retry --from-step`):
-- part of the idempotency key once it is above 0, so a service sees a new request.
ALTER TABLE {{schema}}.steps ADD COLUMN rerun integer NOT NULL DEFAULT 0;
