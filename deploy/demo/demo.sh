#!/usr/bin/env bash
# make demo: a local Envoy with Veer's filter in front of two versions of a demo app, walked
# through a canary (20 % -> 50 % -> 100 %), an A/B experiment for one user segment, and a
# blue/green switch with its rollback. Every step is verified by veerctl from the proxy's own
# counters, and the split a person counts with curl is shown beside `veerctl status`.
#
# It stops everything it started (by PID) when it ends or is interrupted. Traffic stays on
# 127.0.0.1. VEER_DEMO_REQUESTS sets the requests per step (default 1000);
# VEER_DEMO_PAUSE=1 waits for Enter between steps.
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=${VEER_DEMO_REQUESTS:-1000}
VEERCTL=${VEERCTL:-target/debug/veerctl}
APP=${VEER_DEMO_APP:-target/debug/veer-demo-app}
ENVOY=${VEER_ENVOY:-.venv/bin/envoy}
WASM=$PWD/target/veer.wasm
for f in "$VEERCTL" "$APP" "$ENVOY" "$WASM"; do
  [[ -x $f || -f $f ]] || { echo "missing $f: run 'make demo' (it builds everything)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "the demo counts responses with curl; install it (apt-get install curl)" >&2; exit 1; }

WORK=$(mktemp -d -t veer-demo.XXXXXX)
PIDS=()
cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping the demo processes"; exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LISTEN=$(free_port); ADMIN=$(free_port); V1=$(free_port); V2=$(free_port)
export VEER_ENVOY_DIR=$WORK/ecds VEER_ADMIN=http://127.0.0.1:$ADMIN
mkdir -p "$VEER_ENVOY_DIR"

bold() { if [[ -t 1 && -z ${NO_COLOR:-} ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
run() { printf '$ %s\n' "$*"; "$@"; }
pause() { if [[ ${VEER_DEMO_PAUSE:-0} == 1 ]]; then read -rp "(Enter to continue) " _; fi; }

# Runs a command in the background and waits for it, so that Ctrl-C (or TERM) interrupts at once
# instead of after the current request loop.
interruptible() { "$@" & local pid=$!; PIDS+=("$pid"); wait "$pid"; }
tally() { sort | uniq -c | awk -v n="$REQUESTS" '{ printf "  %s: %5d  (%.1f %%)\n", $2, $1, 100 * $1 / n }'; }

# count LABEL [curl args...]: one request per user, tallied by the version that answered.
count_loop() {
  local label=$1; shift
  for i in $(seq 1 "$REQUESTS"); do
    curl -s -b "uid=$label-$i" "$@" "http://127.0.0.1:$LISTEN/"
  done | tally
}
count() {
  echo "$REQUESTS requests, one per user, counted with curl:"
  interruptible count_loop "$@"
}

# The experiment assignment each German user's UI receives (x-veer-experiment response header).
assignments_loop() {
  for i in $(seq 1 "$REQUESTS"); do
    curl -s -o /dev/null -D - -b "uid=ab-$i" -H "x-country: de" "http://127.0.0.1:$LISTEN/" |
      tr -d '\r' | grep -i '^x-veer-experiment:' | cut -d' ' -f2
  done | tally
}

bold "Starting two versions of the demo app and Envoy with the Veer filter"
"$APP" v1 "$V1" & PIDS+=($!)
"$APP" v2 "$V2" & PIDS+=($!)
run "$VEERCTL" apply -f deploy/demo/web.yaml --wasm "$WASM" --no-wait
sed -e "s/{{ADMIN_PORT}}/$ADMIN/; s/{{LISTEN_PORT}}/$LISTEN/; s#{{ECDS_DIR}}#$VEER_ENVOY_DIR#g" \
    -e "s/{{V1_PORT}}/$V1/; s/{{V2_PORT}}/$V2/; s/{{V3_PORT}}/1/" deploy/envoy/envoy.yaml > "$WORK/envoy.yaml"
"$ENVOY" -c "$WORK/envoy.yaml" --use-dynamic-base-id --concurrency 2 --log-level warn >"$WORK/envoy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$ADMIN/ready" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$LISTEN/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$LISTEN/" >/dev/null || { echo "Envoy did not come up:"; cat "$WORK/envoy.log"; exit 1; }
echo "Envoy listens on 127.0.0.1:$LISTEN (admin :$ADMIN); v1 on :$V1, v2 on :$V2"
count start
pause

bold "Canary: 20 % of users to v2"
run "$VEERCTL" canary set-weight web v2 20
count canary20
run "$VEERCTL" status
pause

bold "Canary: 50 %"
run "$VEERCTL" canary set-weight web v2 50
count canary50
run "$VEERCTL" status
pause

bold "Canary: 100 % -- promote v2 to stable"
run "$VEERCTL" canary promote web v2
count canary100
run "$VEERCTL" status
pause

bold "Why did this user get that version?"
run "$VEERCTL" explain --cookie uid=alice
pause

bold "A/B experiment for German users only: half keep the classic checkout (v2), half try one-click (v1)"
run "$VEERCTL" experiment start web checkout --segment header:x-country=de \
    --arm classic=v2:50 --arm one-click=v1:50
echo "German users, by the assignment the UI receives (x-veer-experiment response header):"
interruptible assignments_loop
echo "Everyone else is not enrolled and keeps the default split:"
count ab-others
run "$VEERCTL" experiment list
run "$VEERCTL" experiment stop web checkout
pause

bold "Blue/green: switch everyone to v1 at once"
run "$VEERCTL" bluegreen switch web v1
count blue
run "$VEERCTL" status
pause

bold "Blue/green rollback: back to v2, at once"
run "$VEERCTL" bluegreen rollback web
count green
run "$VEERCTL" status

bold "Done: every change above was verified live from Envoy's own counters."
