-- The hot tables are updated (sagas, steps) or appended to (events) at the engine's rate
-- and grow to millions of rows. PostgreSQL's defaults wait for a fifth of a table to be
-- dead before vacuuming it: 400,000 dead saga versions on a table of two million, each
-- one scanned past by the claim and the console. Vacuum (and analyze) after 2 % instead,
-- so dead tuples stay bounded however large the history grows.
ALTER TABLE {{schema}}.sagas SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE {{schema}}.steps SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE {{schema}}.events SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_insert_scale_factor = 0.05);
