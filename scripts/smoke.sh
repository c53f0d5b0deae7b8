#!/usr/bin/env bash
# The owner's smoke test against a running server:
#   scripts/smoke.sh BASE EMAIL PASSWORD [BUSINESS_ID]
# login → csrf → impersonate → save prompt, each checked for its exact status; it fails loudly.
set -uo pipefail

BASE=${1:?usage: scripts/smoke.sh BASE EMAIL PASSWORD [BUSINESS_ID]}
EMAIL=${2:?usage: scripts/smoke.sh BASE EMAIL PASSWORD [BUSINESS_ID]}
PASSWORD=${3:?usage: scripts/smoke.sh BASE EMAIL PASSWORD [BUSINESS_ID]}
BUSINESS_ID=${4:-1}
JAR=$(mktemp)
BODY=$(mktemp)
OLD_JAR=$(mktemp)
trap 'rm -f "$JAR" "$BODY" "$OLD_JAR"' EXIT
PY=$(command -v python3 || command -v python)

json_field() { "$PY" -c 'import sys,json; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$BODY" "$1"; }

# step NAME EXPECTED_STATUS curl-args...
step() {
  local name=$1 expected=$2; shift 2
  local status
  status=$(curl -sS -o "$BODY" -w '%{http_code}' -c "$JAR" -b "$JAR" "$@") || status="curl-failed"
  if [ "$status" != "$expected" ]; then
    echo "FAIL  $name: expected $expected, got $status"
    cat "$BODY"; echo
    exit 1
  fi
  echo "ok    $name ($status)"
}

step "login" 200 -H 'Content-Type: application/json' -X POST "$BASE/api/auth/login" \
  --data "$("$PY" -c 'import json,sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2]}))' "$EMAIL" "$PASSWORD")"

step "csrf token" 200 "$BASE/api/auth/csrf"
TOKEN=$(json_field csrfToken)
[ -n "$TOKEN" ] || { echo "FAIL  csrf token: empty"; exit 1; }
grep -q 'XSRF-TOKEN' "$JAR" || { echo "FAIL  csrf token: no XSRF-TOKEN cookie was set"; exit 1; }

# A fresh install has no business yet: make one so that the owner's sequence has a target.
status=$(curl -sS -o "$BODY" -w '%{http_code}' -c "$JAR" -b "$JAR" "$BASE/api/admin/businesses/$BUSINESS_ID")
if [ "$status" = "404" ]; then
  step "create a business to impersonate" 201 -H "X-CSRFToken: $TOKEN" -H 'Content-Type: application/json' \
    -X POST "$BASE/api/admin/businesses" --data '{"name":"Smoke test business"}'
  BUSINESS_ID=$(json_field id)
fi

step "write without CSRF is refused as csrf_failed" 403 -X POST "$BASE/api/admin/businesses/$BUSINESS_ID/impersonate"
[ "$(json_field reason)" = "csrf_failed" ] || { echo "FAIL  expected reason csrf_failed"; cat "$BODY"; exit 1; }

step "impersonate business $BUSINESS_ID" 200 -H "X-CSRFToken: $TOKEN" \
  -X POST "$BASE/api/admin/businesses/$BUSINESS_ID/impersonate"

step "save prompts" 200 -H "X-CSRFToken: $TOKEN" -H 'Content-Type: application/json' \
  -X PUT "$BASE/api/business/current/prompt" --data '{"calls_prompt":"ok","whatsapp_prompt":"ok"}'

step "read prompts back" 200 "$BASE/api/business/current/prompt"
[ "$(json_field calls_prompt)" = "ok" ] && [ "$(json_field whatsapp_prompt)" = "ok" ] \
  || { echo "FAIL  the saved prompts did not read back"; cat "$BODY"; exit 1; }

step "exit impersonation" 200 -H "X-CSRFToken: $TOKEN" -X POST "$BASE/api/admin/impersonate/exit"
step "the session works before logout" 200 "$BASE/api/auth/me"
cp "$JAR" "$OLD_JAR"  # logout makes curl drop the cookie; replay a copy, as a thief would
step "logout" 200 -X POST "$BASE/api/auth/logout"
status=$(curl -sS -o "$BODY" -w '%{http_code}' -b "$OLD_JAR" "$BASE/api/auth/me")
[ "$status" = "401" ] || { echo "FAIL  the cookie from before logout still works ($status)"; cat "$BODY"; exit 1; }
echo "ok    the cookie from before logout no longer works ($status)"
echo "smoke test passed against $BASE"
