-- The journal is appended to in id order and read by id in two ways: one saga's events
-- (the primary key, saga_id first) and everything after an id (the metrics' tail). A
-- btree on id alone made every event two index entries; ids follow the table's physical
-- order, so a BRIN index finds the tail as well at a fraction of the cost of each insert.
DROP INDEX {{schema}}.events_id;
CREATE INDEX events_id_brin ON {{schema}}.events USING brin (id) WITH (autosummarize = on);
