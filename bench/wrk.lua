-- make bench: the request every setup receives, with a different user per request.
--
-- A browser-like GET for the main service's host (web.example.com) with three cookies, one of
-- them `uid=<user>`, the stickiness key of bench/configs/realistic.json (filter/benches/decide.rs
-- builds the same requests). Every request carries a
-- user id not seen before in this run, so Veer hashes a new key each time (no caching helps).
-- The same users recur from one run to the next (sticky across rounds).
--
-- done() prints one line bench/run parses: requests, errors, latency percentiles (microseconds).

-- BENCH_MIX (set by bench/run per setup) changes one thing about every request:
--   (unset)  the mix above: GET / on web.example.com
--   outside  Host api.example.com: a service with no experiment, so no request is in one (what
--            goals declared elsewhere must not make slower)
--   goal     GET /search/click?q=shoes on web.example.com: every request reaches a goal of
--            bench/configs/realistic-goals.json (its experiments' arms are recomputed from the key)
local mix = os.getenv("BENCH_MIX") or ""
local request_line = "GET / HTTP/1.1\r\n"
local host = "web.example.com"
if mix == "outside" then
  host = "api.example.com"
elseif mix == "goal" then
  request_line = "GET /search/click?q=shoes HTTP/1.1\r\n"
elseif mix ~= "" then
  error("BENCH_MIX=" .. mix .. ": not outside or goal")
end

local prefix = "u-1-"
local counter = 0
local head = request_line ..
  "Host: " .. host .. "\r\n" ..
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" ..
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" ..
  "Accept-Language: en-US,en;q=0.5\r\n" ..
  "Cookie: session=0123456789abcdef0123456789abcdef; uid="

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", "u-" .. threads .. "-")
end

-- Most requests fall through the main service's rules and its segmented experiment to the
-- default split (~10 % of users are enrolled in the unsegmented experiment). One in 20 matches a
-- cohort rule (x-beta), one in 25 is in the segmented experiment's segment (x-country: de).
function request()
  counter = counter + 1
  local extra = ""
  if counter % 20 == 0 then
    extra = "X-Beta: 1\r\n"
  elseif counter % 25 == 0 then
    extra = "X-Country: de\r\n"
  end
  return head .. prefix .. counter .. "; theme=dark\r\n" .. extra .. "\r\n"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50=%d p90=%d p99=%d p999=%d mean=%.1f max=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
