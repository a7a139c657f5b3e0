#!/usr/bin/env bash
# make demo: a local Envoy with Veer's filter in front of two versions of a demo app, walked
# through early access for employees (a cohort rule), a canary (20 % -> 50 % -> 100 %), an A/B
# experiment for one user segment, an A/B test judged on a goal (simulated shoppers; `veerctl
# experiment report` names the winner and writes an HTML report), and a blue/green switch with its
# rollback. Every step is verified by veerctl from the proxy's own counters (`veerctl status
# --check`, `cohort list`, `experiment list`), and what a person counts with curl is checked
# against the configured split or rule (binomial tolerance; exact for a rule) and against those
# counters; any difference fails it.
#
# It stops everything it started (each background job by its own process group) when it ends, fails
# or is interrupted (INT, TERM, HUP). Traffic stays on
# 127.0.0.1. VEER_DEMO_REQUESTS sets the requests per step (default 1000), VEER_DEMO_SHOPPERS the
# simulated shoppers of the A/B test with a goal (default 2000), VEER_DEMO_REPORT where its HTML
# report goes (default target/veer-demo-report.html); VEER_DEMO_PAUSE=1 waits for Enter between
# steps. VEER_BUILD=native runs Veer native (the dynamic module, `make native`) instead of the
# proxy-wasm filter: the same steps, veerctl told the build once (`apply --module`).
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=${VEER_DEMO_REQUESTS:-1000}
VEERCTL=${VEERCTL:-target/debug/veerctl}
APP=${VEER_DEMO_APP:-target/debug/veer-demo-app}
SHOPPERS_BIN=${VEER_DEMO_SHOPPERS_BIN:-target/debug/veer-demo-shoppers}
SHOPPERS=${VEER_DEMO_SHOPPERS:-2000}
REPORT_HTML=${VEER_DEMO_REPORT:-$PWD/target/veer-demo-report.html}
ENVOY=${VEER_ENVOY:-.venv/bin/envoy}
WASM=$PWD/target/veer.wasm
NATIVE_DIR=$PWD/target/native
BUILD=${VEER_BUILD:-wasm}
case $BUILD in
  wasm) FILTER_ARGS=(--wasm "$WASM"); BOOTSTRAP=deploy/envoy/envoy.yaml; FILTER_FILE=$WASM ;;
  # Envoy finds the module (veer_native -> libveer_native.so) in ENVOY_DYNAMIC_MODULES_SEARCH_PATH.
  native) FILTER_ARGS=(--module "$NATIVE_DIR"); BOOTSTRAP=deploy/envoy/envoy-native.yaml
          FILTER_FILE=$NATIVE_DIR/libveer_native.so; export ENVOY_DYNAMIC_MODULES_SEARCH_PATH=$NATIVE_DIR ;;
  *) echo "VEER_BUILD=$VEER_BUILD: use wasm or native" >&2; exit 1 ;;
esac
for f in "$VEERCTL" "$APP" "$SHOPPERS_BIN" "$ENVOY" "$FILTER_FILE"; do
  [[ -x $f || -f $f ]] || { echo "missing $f: run 'make demo' (it builds everything)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "the demo counts responses with curl; install it (apt-get install curl)" >&2; exit 1; }

WORK=$(mktemp -d -t veer-demo.XXXXXX)
# Process groups of everything started in the background: each job runs in its own group (job
# control on while it is started), so stopping the group also stops what it runs (curl, a pipe).
# Background jobs of a script ignore SIGINT, so Ctrl-C alone would leave them running.
GROUPS_STARTED=()
cleanup() {
  local code=$?
  trap '' INT TERM HUP
  for pgid in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  # A member (a curl) can outlive its group's leader by a moment: wait until every group is
  # empty (up to 5 s each, then force it), so nothing of the demo outlives the script.
  for pgid in "${GROUPS_STARTED[@]}"; do
    for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || continue 2; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
  for pgid in "${GROUPS_STARTED[@]}"; do wait "$pgid" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping the demo processes"; exit 130' INT TERM HUP

# spawn CMD...: starts CMD in the background in its own process group; SPAWNED is its PID (= PGID).
spawn() { set -m; "$@" & SPAWNED=$!; set +m; GROUPS_STARTED+=("$SPAWNED"); }
# interruptible CMD...: runs CMD in its own group and waits, so that Ctrl-C (or TERM) stops it at
# once instead of after the current request loop. A finished group is forgotten: its number may
# be reused by a process the demo did not start.
interruptible() {
  spawn "$@"; wait "$SPAWNED"
  local pgid kept=()
  for pgid in "${GROUPS_STARTED[@]}"; do [[ $pgid == "$SPAWNED" ]] || kept+=("$pgid"); done
  GROUPS_STARTED=("${kept[@]}")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LISTEN=$(free_port); ADMIN=$(free_port); V1=$(free_port); V2=$(free_port)
export VEER_ENVOY_DIR=$WORK/ecds VEER_ADMIN=http://127.0.0.1:$ADMIN
mkdir -p "$VEER_ENVOY_DIR"

bold() { if [[ -t 1 && -z ${NO_COLOR:-} ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
# run CMD...: shows CMD as it could be typed (an argument with spaces or shell characters quoted),
# then runs it.
run() {
  local shown=() a
  for a in "$@"; do if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then shown+=("$a"); else shown+=("'$a'"); fi; done
  printf '$ %s\n' "${shown[*]}"; "$@"
}
pause() { if [[ ${VEER_DEMO_PAUSE:-0} == 1 ]]; then read -rp "(Enter to continue) " _; fi; }
fail() { echo "make demo: $*" >&2; exit 1; }

# count_loop LABEL FILE [COOKIE]: one request per user (cookie uid=LABEL-i, and COOKIE if given),
# the answering version per line in FILE.
count_loop() {
  local label=$1 file=$2 extra=${3:+; $3}
  for i in $(seq 1 "$REQUESTS"); do
    curl -sS -b "uid=$label-$i$extra" "http://127.0.0.1:$LISTEN/" || echo "(curl failed)"
  done >"$file"
}

# verify_split LABEL VARIANT=PERCENT...: counts a step with curl, then checks the tally against
# the configured split and, with `veerctl status --check`, the proxy's own counters against both.
# The counters must equal the tally once a verified change has reset them (SINCE_CHANGE=1):
# before that they also hold the requests that waited for Envoy to come up.
SINCE_CHANGE=0
verify_split() {
  local label=$1 status=-; shift
  echo "Sending $REQUESTS requests, one per user..."
  interruptible count_loop "$label" "$WORK/$label.tally"
  run "$VEERCTL" status --check || fail "step '$label': veerctl status found a mismatch (above)"
  if ((SINCE_CHANGE)); then status=$WORK/$label.status.json; "$VEERCTL" status -q -o json >"$status"; fi
  echo "The same $REQUESTS requests as counted with curl:"
  python3 deploy/demo/verify.py split "$WORK/$label.tally" "$status" "$@" ||
    fail "step '$label': the responses do not follow the configured split (above)"
}

# The experiment assignment each German user's UI receives (x-veer-experiment response header),
# and the version that answered, one "ASSIGNMENT VERSION" line per user.
assignments_loop() {
  local file=$1 out
  for i in $(seq 1 "$REQUESTS"); do
    out=$(curl -sS -D - -b "uid=ab-$i" -H "x-country: de" "http://127.0.0.1:$LISTEN/" | tr -d '\r') ||
      out="(curl failed)"
    printf '%s %s\n' "$(sed -n 's/^x-veer-experiment: *//Ip' <<<"$out")" "$(tail -n1 <<<"$out")"
  done >"$file"
}

bold "Starting two versions of the demo app and Envoy with the Veer filter"
spawn "$APP" v1 "$V1"
spawn "$APP" v2 "$V2"
run "$VEERCTL" apply -f deploy/demo/web.yaml "${FILTER_ARGS[@]}" --no-wait
sed -e "s/{{ADMIN_PORT}}/$ADMIN/; s/{{LISTEN_PORT}}/$LISTEN/; s#{{ECDS_DIR}}#$VEER_ENVOY_DIR#g" \
    -e "s/{{V1_PORT}}/$V1/; s/{{V2_PORT}}/$V2/; s/{{V3_PORT}}/1/; s#{{WASM}}#$WASM#" \
    "$BOOTSTRAP" > "$WORK/envoy.yaml"
spawn "$ENVOY" -c "$WORK/envoy.yaml" --use-dynamic-base-id --concurrency 2 --log-level warn --log-path "$WORK/envoy.log"
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$ADMIN/ready" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$LISTEN/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$LISTEN/" >/dev/null || { cat "$WORK/envoy.log"; fail "Envoy did not come up (its log is above)"; }
echo "Envoy listens on 127.0.0.1:$LISTEN (admin :$ADMIN); v1 on :$V1, v2 on :$V2"
verify_split start v1=100 v2=0
SINCE_CHANGE=1
pause

bold "Employees see v2 before anyone else: a cohort rule for the cookie team=internal"
run "$VEERCTL" cohort add web employees --match 'cookie:team=internal' --variant v2 \
    --sample 'cookie:team=internal & cookie:uid=ada' --sample 'cookie:uid=ada'
echo "Sending $REQUESTS requests from employees (cookie team=internal), one per user..."
interruptible count_loop employees "$WORK/employees.tally" "team=internal"
run "$VEERCTL" cohort list web
"$VEERCTL" cohort list web -q -o json >"$WORK/employees.list.json"
echo "Employees by the version that answered, as counted with curl:"
python3 deploy/demo/verify.py cohort "$WORK/employees.tally" "$WORK/employees.list.json" employees=v2 ||
  fail "step 'employees': the employees are not all on v2, or the rule's counter differs (above)"
echo "Everyone else keeps the default split (all on v1):"
verify_split cohort-others v1=100 v2=0
pause

bold "Canary: 20 % of users to v2"
run "$VEERCTL" canary set-weight web v2 20
verify_split canary20 v1=80 v2=20
pause

bold "Canary: 50 %"
run "$VEERCTL" canary set-weight web v2 50
verify_split canary50 v1=50 v2=50
pause

bold "Canary: 100 % -- promote v2 to stable"
run "$VEERCTL" canary promote web v2
verify_split canary100 v1=0 v2=100
pause

bold "v2 is everyone's now: the employees' early access has done its job"
run "$VEERCTL" cohort remove web employees
pause

bold "Why did this user get that version?"
run "$VEERCTL" explain --cookie uid=alice
pause

bold "A/B experiment for German users only: half keep the classic checkout (v2), half try one-click (v1)"
run "$VEERCTL" experiment start web checkout --segment header:x-country=de \
    --arm classic=v2:50 --arm one-click=v1:50
echo "Sending $REQUESTS requests from German users, one per user..."
interruptible assignments_loop "$WORK/ab.tally"
run "$VEERCTL" experiment list
"$VEERCTL" experiment list -q -o json >"$WORK/ab.list.json"
echo "German users by the assignment their UI received (x-veer-experiment response header):"
python3 deploy/demo/verify.py experiment "$WORK/ab.tally" "$WORK/ab.list.json" \
    classic=v2:50 one-click=v1:50 ||
  fail "step 'A/B experiment': the assignments do not follow the configured arms (above)"
echo "Everyone else is not enrolled and keeps the default split:"
verify_split ab-others v1=0 v2=100
run "$VEERCTL" experiment stop web checkout
pause

bold "A/B test with a goal: does one-click checkout (v1) sell more than the classic one (v2)?"
run "$VEERCTL" experiment start web buy-button --arm classic=v2:50 --arm one-click=v1:50 --goal purchase
echo "$SHOPPERS simulated shoppers each load two pages and buy with their arm's chance: classic 10 %, one-click 20 %..."
interruptible "$SHOPPERS_BIN" --port "$LISTEN" --users "$SHOPPERS" --rate classic=0.10 --rate one-click=0.20 \
    --seed 1 --out "$WORK/shoppers.json"
run "$VEERCTL" experiment report web buy-button --html "$REPORT_HTML"
"$VEERCTL" -q -o json experiment report web buy-button >"$WORK/report.json"
echo "The report against what the shoppers did:"
python3 deploy/demo/verify.py report "$WORK/shoppers.json" "$WORK/report.json" one-click ||
  fail "step 'A/B test with a goal': the report does not match what the shoppers did (above)"
run "$VEERCTL" experiment stop web buy-button
pause

bold "Blue/green: switch everyone to v1 at once"
run "$VEERCTL" bluegreen switch web v1
verify_split blue v1=100 v2=0
pause

bold "Blue/green rollback: back to v2, at once"
run "$VEERCTL" bluegreen rollback web
verify_split green v1=0 v2=100

bold "Done: every step above was verified: the curl tallies against the configured split, and Envoy's own counters against both."
