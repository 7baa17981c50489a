#!/bin/sh
# The HTTP API with curl. SAGACTL_URL defaults to http://127.0.0.1:8080;
# SAGACTL_TOKEN comes from `sagactl token create --name checkout-service --role start`.
set -eu
URL=${SAGACTL_URL:-http://127.0.0.1:8080}
AUTH="Authorization: Bearer $SAGACTL_TOKEN"

# Start (201 created; 200 when the key started a saga before).
ID=$(curl -sf -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"definition":"order-checkout","input":{"orderId":"o-1042","amount":25},"key":"order-1042"}' \
  "$URL/v1/sagas" | sed 's/.*"id":"\([^"]*\)".*/\1/')
echo "saga $ID"

# Follow it live (Server-Sent Events; the stream ends when the saga does).
curl -sN -H "$AUTH" -H 'Accept: text/event-stream' "$URL/v1/sagas/$ID/events" | grep '^event:'

# Or wait for it to finish (or be suspended), at most 30 s, and read its steps.
curl -sf -H "$AUTH" "$URL/v1/sagas/$ID?wait=30s"; echo

# Stuck sagas of one definition, 20 a page (pass "next" as &after= for the next page).
curl -sf -H "$AUTH" "$URL/v1/sagas?definition=order-checkout&stuck=true&limit=20"; echo

# With an operate token: retry, compensate, skip, abort; resolve interventions.
#   curl -s -H "$AUTH" -H 'Content-Type: application/json' -d '{"reason":"provider back"}' "$URL/v1/sagas/$ID/retry"
#   curl -s -H "$AUTH" -H 'Content-Type: application/json' -d '{"reason":"customer gone","force":true}' "$URL/v1/sagas/$ID/abort"
#   curl -s -H "$AUTH" "$URL/v1/interventions"
#   curl -s -H "$AUTH" -H 'Content-Type: application/json' -d '{"action":"retry","note":"checked"}' "$URL/v1/interventions/<id>/resolve"
