-- Start a saga in the same transaction as the business write: both commit or neither.
--   psql "$DATABASE_URL" -v order_id=1042 -f start-in-transaction.sql
-- Variables: order_id (required), schema (default sagactl), definition (default order-checkout),
-- outcome (COMMIT or ROLLBACK, default COMMIT).
\set ON_ERROR_STOP on
\set VERBOSITY verbose
\if :{?schema}
\else
  \set schema sagactl
\endif
\if :{?definition}
\else
  \set definition order-checkout
\endif
\if :{?outcome}
\else
  \set outcome COMMIT
\endif

BEGIN;
-- The business write: the order row of the checkout service.
INSERT INTO orders (id, customer_id, amount) VALUES (:'order_id', 'c-1', 25);
-- The saga that takes payment and ships it; the key makes a retried request start no second saga.
SELECT :"schema".start_saga(
         :'definition',
         jsonb_build_object('orderId', :'order_id', 'customerId', 'c-1', 'items', jsonb_build_array(jsonb_build_object('sku', 'sku-1', 'qty', 1)), 'amount', 25),
         'order-' || :'order_id'
       ) AS saga_id \gset
:outcome;

\echo saga :saga_id
SELECT :"schema".saga_status(:'saga_id') AS status;
