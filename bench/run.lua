--- The ghl benchmark: starts the benchmark server on the loopback, runs every workload
-- for every contender as a separate process (alternating contenders within each
-- repetition), and writes a table of medians and ratios plus a chart.
--
--   lua5.4 bench/run.lua            full run  -> bench/results.md, bench/chart.png   (make bench)
--   lua5.4 bench/run.lua --smoke    tiny run  -> build/bench/smoke.md, smoke.png     (make bench-smoke)
--
-- Environment: BENCH_REPS (repetitions of W1-W3; full 5, smoke 1), BENCH_REPS_W4 (1),
-- BENCH_REPS_W5 and BENCH_REPS_W6 (full 3, smoke 1; node-sdk runs W5 once), BENCH_REPS_W7 (1),
-- BENCH_OUT / BENCH_CHART (output paths), BENCH_ONLY (say W5,W6: only these
-- workloads, for working on them; the others show n/a). Exits 1 when a contender failed.
-- W7 writes its rows (a CSV of contacts) and its journals in build/bench/tmp: on the disk the
-- checkout is on, whose filesystem the report names (a journal fdatasyncs every record).
-- W6 starts a redis-server of its own on a free 127.0.0.1 port (Debian package redis-server).
-- Nothing is sent anywhere but 127.0.0.1: proxy variables are removed for the contenders.

local T_START = os.time()
local LOAD_AT_START
do
  local f = io.open("/proc/loadavg")
  LOAD_AT_START = f and (f:read("*l") or ""):match("^(%S+ %S+ %S+)") or "unknown"
  if f then f:close() end
end

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local ROOT
do
  local p = io.popen(("cd '%s/..' && pwd"):format(here))
  ROOT = p:read("*l")
  p:close()
end
package.path = ROOT .. "/?.lua;" .. ROOT .. "/lua/?.lua;" .. package.path

local socket = require "socket"
local http = require "socket.http"
local ltn12 = require "ltn12"

local SMOKE = false
for _, a in ipairs(arg) do
  if a == "--smoke" then SMOKE = true
  else io.stderr:write("usage: lua5.4 bench/run.lua [--smoke]\n") os.exit(2) end
end

local BUILD = ROOT .. "/build/bench"
local TMP = BUILD .. "/tmp"
local NODE_PKG = BUILD .. "/node/node_modules/@gohighlevel/api-client/package.json"
local SDK_PIN = "3.1.0"
local OUT = os.getenv("BENCH_OUT") or (SMOKE and BUILD .. "/smoke.md" or ROOT .. "/bench/results.md")
local CHART = os.getenv("BENCH_CHART") or (SMOKE and BUILD .. "/smoke.png" or ROOT .. "/bench/chart.png")

local function env_int(name, default)
  local v = tonumber(os.getenv(name) or "")
  if v and v >= 1 and v % 1 == 0 then return math.tointeger(v) end
  return default
end
local REPS = env_int("BENCH_REPS", SMOKE and 1 or 5)
local REPS_W4 = env_int("BENCH_REPS_W4", 1)
-- W5 (node-sdk once: it takes about 70 s) and W6 (4 processes whose windows fall as the
-- scheduler lets them): one run is at the mercy of the machine's other load
local REPS_W5 = env_int("BENCH_REPS_W5", SMOKE and 1 or 3)
local REPS_W6 = env_int("BENCH_REPS_W6", SMOKE and 1 or 3)
-- W7: 4 runs of about 50 s each (2 interpreters × batch and job) a repetition
local REPS_W7 = env_int("BENCH_REPS_W7", 1)
local ONLY
if (os.getenv("BENCH_ONLY") or "") ~= "" then
  ONLY = {}
  for k in os.getenv("BENCH_ONLY"):gmatch("[^,%s]+") do ONLY[k:upper()] = true end
end

-- counts: the issue's, or tiny ones for the smoke run
local N = SMOKE and { w1 = 200, w2 = 2000, w2small = 200, w3 = 40, w4 = 60, w5_locations = 8, w5_per = 12,
                      w6_per = 6, w7 = 150 }
  or { w1 = 10000, w2 = 100000, w2small = 10000, w3 = 200, w4 = 1000, w5_locations = 200, w5_per = 20,
       w6_per = 20, w7 = 5000 }
local CONCURRENCY, LATENCY_MS, LIMIT_PER_S = 20, 50, 50
-- W5 and W6: GHL's limit per location, scaled down (GHL: 100 per 10 s), on the agency port
-- with 50 ms latency. W5's is 10 per 2 s: 64 calls in flight at 50 ms each carry at most
-- 1280 calls/s, so 200 locations at 10 per 1 s (2000/s) would measure the concurrency, not
-- the pacing; at 10 per 2 s the limits add up to 1000/s. W6 (4 sequential processes, at
-- most 80 calls/s in flight) takes 10 per 1 s. The smoke run: W5 at 10 per 1 s as well, so
-- that even a ghl that paces all locations as one finishes its 96 calls in about 10 s.
local W5 = { concurrency = 64, max = 10, interval_ms = SMOKE and 1000 or 2000, latency_ms = 50 }
local W6 = { procs = 4, max = 10, interval_ms = 1000, latency_ms = 50 }
W5.limit_per_s = N.w5_locations * W5.max * 1000 / W5.interval_ms -- the sum of the per-location limits
W6.limit_per_s = W6.max * 1000 / W6.interval_ms
-- W7: bulk upserts under GHL's limit of one location, 100 per 10 s, with time running 10 times
-- faster: 100 per 1000 ms, so that 5,000 rows take 50 s, and 20 ms latency (GHL's answers take
-- about 200 ms). Concurrency 8, ghl.job's and client:batch's default (8 in flight at 20 ms carry
-- 400/s: the limit, not the concurrency, is what bounds the run).
local W7 = { max = 100, interval_ms = 1000, latency_ms = 20, concurrency = 8 }
W7.limit_per_s = W7.max * 1000 / W7.interval_ms

------------------------------------------------------------------------------
-- small helpers

local sys = require "spec.support.sys"
local sh, read, write, q = sys.sh, sys.read, sys.write, sys.q

local function capture(cmd)
  return (sys.capture(cmd .. " 2>&1"):gsub("%s+$", ""))
end

local function say(fmt, ...)
  io.stdout:write(fmt:format(...), "\n")
  io.stdout:flush()
end

-- the filesystem a path is on: "ext4 on /dev/vda"
local function filesystem_of(path)
  local fs, src = capture("findmnt -n -o FSTYPE,SOURCE -T " .. q(path)):match("^(%S+)%s+(%S+)")
  if fs then return fs == src and fs or ("%s on %s"):format(fs, src) end
  local t = capture("stat -f -c %T " .. q(path))
  return t ~= "" and t or "unknown"
end

local function median(xs)
  local t = {}
  for _, x in ipairs(xs) do if x == x then t[#t + 1] = x end end
  if #t == 0 then return nil end
  table.sort(t)
  local m = #t // 2
  if #t % 2 == 1 then return t[m + 1] end
  return (t[m] + t[m + 1]) / 2
end

------------------------------------------------------------------------------
-- the contenders

local SNAPSHOT = BUILD .. "/ghl" -- lua/ and the C modules, copied when the run starts
local CLEAN_ENV = "env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u all_proxy -u ALL_PROXY "
  .. "NO_PROXY='*' no_proxy='*' GHL_BENCH_GHL_ROOT='" .. SNAPSHOT .. "' "

local RAW = BUILD .. "/raw"
local CONTENDERS = {
  { name = "raw", cmd = q(RAW) },
  { name = "lua-curl", cmd = "lua5.1 " .. q(ROOT .. "/bench/luacurl_bench.lua") },
  { name = "ghl", cmd = "lua5.4 " .. q(ROOT .. "/bench/ghl_bench.lua") },
  { name = "ghl-luajit", cmd = "luajit " .. q(ROOT .. "/bench/ghl_bench.lua") },
  { name = "node-sdk", cmd = "node " .. q(ROOT .. "/bench/node_bench.js") },
}
local BY_NAME = {}
for _, c in ipairs(CONTENDERS) do BY_NAME[c.name] = c end

local function check_prerequisites()
  local missing = {}
  if not read(RAW) then missing[#missing + 1] = RAW .. " (make build/bench/raw)" end
  for _, d in ipairs{ "lua5.4", "luajit" } do
    for _, m in ipairs{ "core", "curl" } do
      local so = ("%s/build/%s/ghl/%s.so"):format(ROOT, d, m)
      if not read(so) then missing[#missing + 1] = so .. " (make LUA=" .. d .. ")" end
    end
  end
  if not read("/usr/bin/time") then missing[#missing + 1] = "/usr/bin/time (Debian package time)" end
  if not sh("command -v redis-server >/dev/null 2>&1") then
    missing[#missing + 1] = "redis-server (Debian package redis-server), for W6"
  end
  if #missing > 0 then
    io.stderr:write("bench: missing:\n  ", table.concat(missing, "\n  "), "\n")
    os.exit(2)
  end
  -- the Node SDK: required in a full run, skipped with a message in a smoke run
  local pkg = read(NODE_PKG)
  local has_node = sh("command -v node >/dev/null 2>&1")
  local version = pkg and pkg:match('"version"%s*:%s*"([^"]+)"')
  if not (pkg and has_node) then
    local why = not has_node and "node is not installed" or ("the Node SDK is not installed in " .. BUILD .. "/node")
    if not SMOKE then
      io.stderr:write("bench: ", why, " (make bench installs it)\n")
      os.exit(2)
    end
    say("bench: skipping node-sdk: %s (make bench installs it)", why)
    BY_NAME["node-sdk"].skip = why
  elseif version ~= SDK_PIN then
    io.stderr:write(("bench: the Node SDK in %s/node is %s, not the pinned %s: rm -rf %s/node and run make bench\n")
      :format(BUILD, tostring(version), SDK_PIN, BUILD))
    os.exit(2)
  end
  -- the do-it-yourself peer of W1: Lua 5.1 with lua-curl and lua-cjson (make deps installs them)
  if not sh([[lua5.1 -e 'require "curl"; require "cjson"; require "socket"' >/dev/null 2>&1]]) then
    local why = "lua5.1 with lua-curl, lua-cjson and lua-socket is not installed (Debian packages lua5.1 "
      .. "lua-curl lua-cjson lua-socket; make deps)"
    if not SMOKE then
      io.stderr:write("bench: ", why, "\n")
      os.exit(2)
    end
    say("bench: skipping lua-curl: %s", why)
    BY_NAME["lua-curl"].skip = why
  end
  return version
end

-- ghl as built now (lua/ and build/<lua>/ghl/*.so) copied aside: the whole run measures one
-- version even if the sources are rebuilt meanwhile; retried while a build is half-written
local function snapshot()
  for attempt = 1, 20 do
    local cmd = ("rm -rf %s && mkdir -p %s/build/lua5.4 %s/build/luajit && cp -R %s %s/ && "
      .. "cp -R %s %s/build/lua5.4/ && cp -R %s %s/build/luajit/"):format(q(SNAPSHOT), q(SNAPSHOT), q(SNAPSHOT),
      q(ROOT .. "/lua"), q(SNAPSHOT), q(ROOT .. "/build/lua5.4/ghl"), q(SNAPSHOT), q(ROOT .. "/build/luajit/ghl"),
      q(SNAPSHOT))
    local ok = sh(cmd)
    for _, it in ipairs{ { "lua5.4", "lua5.4" }, { "luajit", "luajit" } } do
      if not ok then break end
      ok = sh(("%s -e \"package.path='%s/lua/?.lua;%s/lua/?/init.lua;'..package.path; "
        .. "package.cpath='%s/build/%s/?.so;'..package.cpath; require('ghl'); require('ghl.curl')\" >/dev/null 2>&1")
        :format(it[1], SNAPSHOT, SNAPSHOT, SNAPSHOT, it[2]))
    end
    if ok then return end
    say("bench: ghl does not load yet (a build in progress?), trying again (%d)", attempt)
    socket.sleep(1)
  end
  io.stderr:write("bench: ghl does not load from ", SNAPSHOT, ": build it with make and make LUA=luajit\n")
  os.exit(2)
end

------------------------------------------------------------------------------
-- the benchmark server (nginx + Lua, one worker), through the specs' launcher

local function start_server()
  local launcher = require "spec.support.server"
  local free_port = launcher.free_port
  local template = assert(read(ROOT .. "/bench/server/nginx.conf.in"))
  local ports = {}
  local srv = launcher.nginx{
    template = template, what = "the benchmark server",
    vars = function(port)
      ports.fast, ports.slow, ports.limited, ports.agency = port, free_port(), free_port(), free_port()
      return { SERVER_DIR = ROOT .. "/bench/server", SLOW_PORT = tostring(ports.slow),
               LIMIT_PORT = tostring(ports.limited), AGENCY_PORT = tostring(ports.agency) }
    end,
  }
  local function wait(port)
    for _ = 1, 500 do
      local c = socket.tcp()
      c:settimeout(0.2)
      if c:connect("127.0.0.1", port) then c:close() return true end
      c:close()
      socket.sleep(0.01)
    end
    error("the benchmark server does not listen on port " .. port)
  end
  wait(ports.slow)
  wait(ports.limited)
  wait(ports.agency)
  srv.urls = {
    fast = "http://127.0.0.1:" .. ports.fast,
    slow = "http://127.0.0.1:" .. ports.slow,
    limited = "http://127.0.0.1:" .. ports.limited,
    agency = "http://127.0.0.1:" .. ports.agency,
  }
  -- the worker's pid, to read its CPU time around each run
  local master = (read(srv.prefix .. "/logs/nginx.pid") or ""):match("%d+")
  srv.worker = master and capture("ps -o pid= --ppid " .. master):match("%d+")
  return srv
end

local CLK_TCK = tonumber(capture("getconf CLK_TCK")) or 100
-- user + sys CPU seconds of a process so far
local function cpu_of(pid)
  local s = pid and read("/proc/" .. pid .. "/stat")
  if not s then return nil end
  local rest = s:match("%) (.*)$")
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  -- fields after the comm: state is field 3 of stat, utime 14, stime 15
  return (tonumber(f[12]) + tonumber(f[13])) / CLK_TCK
end
local function worker_cpu(srv) return cpu_of(srv.worker) end

local function admin(srv, method, path, body)
  local out = {}
  local ok, code = http.request{
    url = srv.urls.fast .. path, method = method, sink = ltn12.sink.table(out),
    source = body and ltn12.source.string(body) or nil,
    headers = body and { ["Content-Type"] = "application/json", ["Content-Length"] = #body } or nil,
  }
  if not ok or code ~= 200 then error(("benchmark server %s %s: %s"):format(method, path, tostring(code))) end
  return table.concat(out)
end

local function stats(srv)
  local s = admin(srv, "GET", "/_bench/stats")
  local t = {}
  for k, v in s:gmatch('"([%w_]+)":(%-?%d+)') do t[k] = tonumber(v) end
  return t
end

------------------------------------------------------------------------------
-- one measured run: a contender, a workload, a server variant, a count

local runs = {} -- every run: {key=, contender=, rep=, wall=, cpu=, rss_mb=, ok=, failed=, items=, ...}
local failures = {}

-- the server's settings for a workload: W2's contacts, W5's and W6's limit and latency
local function configure(srv, w)
  if w.contacts then admin(srv, "POST", "/_bench/config", ('{"contacts":%d}'):format(w.contacts)) end
  if w.agency then
    admin(srv, "POST", "/_bench/config", ('{"agency_max":%d,"agency_interval_ms":%d,"agency_latency_ms":%d}')
      :format(w.agency.max, w.agency.interval_ms, w.agency.latency_ms))
  end
  admin(srv, "POST", "/_bench/reset")
end

-- the command of one contender process, its output files, and what it printed
local function contender_cmd(srv, w, contender, tag, limit_s)
  local f = { time = TMP .. "/" .. tag .. ".time", out = TMP .. "/" .. tag .. ".out",
              err = TMP .. "/" .. tag .. ".err" }
  os.remove(f.time); os.remove(f.out); os.remove(f.err)
  f.journal = TMP .. "/" .. tag .. ".journal"
  os.remove(f.journal)
  local args = w.args or ("%d %s"):format(w.n, w.concurrency and tostring(w.concurrency) or "")
  if type(args) == "function" then args = args(f) end
  local cmd = ("%stimeout -k 5 %d /usr/bin/time -f '%%e %%U %%S %%M' -o %s %s %s %s %s >%s 2>%s"):format(
    CLEAN_ENV, limit_s, q(f.time), contender.cmd, w.mode, q(srv.urls[w.variant]), args, q(f.out), q(f.err))
  return cmd, f
end

local function outcome_of(f)
  local tline = (read(f.time) or ""):match("([%d.]+ [%d.]+ [%d.]+ %d+)%s*$") or ""
  local wall, user, sys, rss = tline:match("^(%S+) (%S+) (%S+) (%S+)$")
  local out = read(f.out) or ""
  return {
    wall = tonumber(wall), cpu = user and (tonumber(user) + tonumber(sys)), rss_mb = rss and tonumber(rss) / 1024,
    ok = tonumber(out:match("ok=(%d+)")), failed = tonumber(out:match("failed=(%d+)")),
    items = tonumber(out:match("items=(%d+)")), loop_ms = tonumber(out:match("elapsed_ms=([%d.]+)")),
    retries = tonumber(out:match("retries=(%d+)")), loop_cpu_ms = tonumber(out:match(" cpu_ms=([%d.]+)")),
    journal_ms = tonumber(out:match("journal_ms=([%d.]+)")),
    journal_cpu_ms = tonumber(out:match("journal_cpu_ms=([%d.]+)")),
    journal_puts = tonumber(out:match("journal_puts=(%d+)")),
    journal_records = tonumber(out:match("journal_records=(%d+)")),
  }
end

local function server_fields(r, st)
  r.srv_requests, r.srv_connections, r.srv_max_inflight = st.requests, st.connections, st.max_inflight
  r.srv_rejected, r.srv_errors, r.span_ms = st.rejected, st.errors, st.span_ms
  r.srv_locations, r.srv_max_in_window = st.locations, st.max_in_window
  r.srv_upserts, r.srv_upserts_new = st.upserts, st.upserts_new
end

local function record(r, w, problem, efile)
  if problem then
    local err = (read(efile) or ""):sub(1, 600)
    failures[#failures + 1] = ("%s %s rep %d: %s\n    %s"):format(r.key, r.contender, r.rep, problem,
      err:gsub("\n", "\n    "))
    r.failed_run = true
  end
  runs[#runs + 1] = r
  say("  %-9s %-10s rep %d/%d  wall %7.3f s  cpu %7.3f s  rss %6.1f MB  loop %9.1f ms  server: %d req, %d conn%s%s%s%s",
    r.key, r.contender, r.rep, w.reps, r.wall or -1, r.cpu or -1, r.rss_mb or -1, r.loop_ms or -1,
    r.srv_requests or -1, r.srv_connections or -1,
    (r.srv_rejected or 0) > 0 and (", " .. r.srv_rejected .. " x 429") or "",
    (r.failed or 0) > 0 and (", " .. r.failed .. " calls failed") or "",
    r.journal_ms and (", journal %.0f ms (cpu %.0f ms) in %d puts"):format(r.journal_ms, r.journal_cpu_ms or -1,
      r.journal_puts or -1) or "",
    problem and ("  FAILED: " .. problem) or "")
end

local function run_one(srv, w, contender, rep)
  configure(srv, w)
  local tag = ("%s-%s-%d"):format(w.key, contender.name, rep)
  -- a contender that hangs is killed (exit 124) and counts as failed
  local limit_s = SMOKE and 30 or (w.key == "W4" and math.max(120, w.n // LIMIT_PER_S * 4))
    or ((w.key == "W5" or w.key:find("^W7")) and 180) or 300
  local cmd, f = contender_cmd(srv, w, contender, tag, limit_s)
  local cpu0 = worker_cpu(srv)
  local exited_ok, code = sh(cmd)
  local cpu1 = worker_cpu(srv)
  local r = outcome_of(f)
  r.key, r.contender, r.rep, r.n = w.key, contender.name, rep, w.n
  r.srv_cpu = cpu0 and cpu1 and (cpu1 - cpu0) or nil
  server_fields(r, stats(srv))
  -- a contender fails when it crashed, reported a failure, or did not do the whole workload;
  -- in W4 and W5 failed calls are the measurement, not a failure of the harness
  local problem
  if code == 124 or code == 137 then
    problem = ("timed out after %d s"):format(limit_s)
  elseif not exited_ok or not r.wall then
    problem = ("exit %s"):format(tostring(code))
  elseif r.items ~= w.items then
    problem = ("%s items, expected %d"):format(tostring(r.items), w.items)
  elseif w.upserts and (r.srv_upserts ~= w.n or r.srv_upserts_new ~= w.n) then
    -- W7: every row upserted exactly once, each a new contact (none sent twice, none lost)
    problem = ("the server answered %s upserts, %s of them new contacts; expected %d, all new")
      :format(tostring(r.srv_upserts), tostring(r.srv_upserts_new), w.n)
  end
  if w.failures_measured and exited_ok and r.wall and r.ok then problem = nil end
  record(r, w, problem, f.err)
  return r
end

-- W6: w.procs processes of one contender at once, on one location; the server's span (first
-- request to last answer) is the group's time. store: "redis" (the run's redis-server) or "none".
local function run_group(srv, w, contender, rep, redis)
  configure(srv, w)
  local key = w.key .. "-" .. w.store
  local limit_s = SMOKE and 40 or 300
  local store = w.store == "redis" and ("redis:" .. redis.port) or "none"
  -- the round trips the run made to Redis: the calls of EVALSHA, EVAL and SCRIPT (pacing
  -- sends nothing else; the commands its script runs inside Redis are counted apart)
  local function redis_commands()
    local s, n = capture(("redis-cli -p %d INFO commandstats"):format(redis.port)), 0
    for cmd, calls in s:gmatch("cmdstat_(%w+):calls=(%d+)") do
      if cmd == "evalsha" or cmd == "eval" or cmd == "script" then n = n + tonumber(calls) end
    end
    return n
  end
  local commands0
  if redis then
    sh(("redis-cli -p %d FLUSHALL >/dev/null 2>&1"):format(redis.port))
    commands0 = redis_commands()
  end
  local parts, files = {}, {}
  for p = 1, w.procs do
    local tag = ("%s-%s-%d-p%d"):format(key, contender.name, rep, p)
    local wp = { mode = w.mode, variant = w.variant, args = ("%d %s"):format(w.per, store) }
    local cmd, f = contender_cmd(srv, wp, contender, tag, limit_s)
    f.rc = TMP .. "/" .. tag .. ".rc"
    os.remove(f.rc)
    files[p] = f
    parts[p] = ("{ %s; echo $? >%s; } &"):format(cmd, q(f.rc))
  end
  local cpu0, rcpu0 = worker_cpu(srv), redis and cpu_of(redis.pid)
  local t0 = socket.gettime()
  sh(table.concat(parts, " ") .. " wait")
  local group_wall = socket.gettime() - t0
  local cpu1, rcpu1 = worker_cpu(srv), redis and cpu_of(redis.pid)
  local commands1 = redis and redis_commands()
  local r = { key = key, contender = contender.name, rep = rep, n = w.procs * w.per, wall = group_wall,
              cpu = 0, rss_mb = 0, ok = 0, failed = 0, items = 0, retries = 0, loop_ms = 0, loop_cpu_ms = 0 }
  r.srv_cpu = cpu0 and cpu1 and (cpu1 - cpu0) or nil
  r.redis_cpu = rcpu0 and rcpu1 and (rcpu1 - rcpu0) or nil
  r.redis_commands = commands0 and commands1 and (commands1 - commands0) or nil
  server_fields(r, stats(srv))
  local problem, err_file
  for p, f in ipairs(files) do
    local o = outcome_of(f)
    local code = tonumber((read(f.rc) or ""):match("%d+"))
    if code == 3 and w.store == "redis" and not W6.has_store then
      r.unsupported = true -- this ghl has no pacing_store yet: said in the report, not a failure
    elseif code ~= 0 or not o.wall or not o.ok then
      problem = problem or ("process %d: exit %s%s"):format(p, tostring(code),
        (code == 124 or code == 137) and (" (timed out after " .. limit_s .. " s)") or "")
      err_file = err_file or f.err
    else
      r.cpu, r.ok, r.failed = r.cpu + o.cpu, r.ok + o.ok, r.failed + (o.failed or 0)
      r.items, r.retries = r.items + (o.items or 0), r.retries + (o.retries or 0)
      r.rss_mb, r.loop_ms = math.max(r.rss_mb, o.rss_mb or 0), math.max(r.loop_ms, o.loop_ms or 0)
      r.loop_cpu_ms = r.loop_cpu_ms + (o.loop_cpu_ms or 0)
    end
  end
  if r.unsupported then
    say("  %-9s %-10s rep %d/%d  skipped: this ghl has no pacing_store (ghl.new refused it)", key,
      contender.name, rep, w.reps)
    r.failed_run = true
    runs[#runs + 1] = r
    return r
  end
  record(r, w, problem, err_file)
  return r
end

------------------------------------------------------------------------------
-- the workloads

local W5_CALLS = N.w5_locations * N.w5_per
local W7_ROWS = TMP .. "/w7-rows.csv"
local WORKLOADS = {
  { key = "W1", runs = { { key = "W1", mode = "w1", variant = "fast", n = N.w1, items = N.w1,
               contenders = { "raw", "lua-curl", "ghl", "ghl-luajit", "node-sdk" } } } },
  { key = "W2", runs = {
      { key = "W2", mode = "w2", variant = "fast", n = N.w2, items = N.w2, contacts = N.w2,
        contenders = { "raw", "ghl", "ghl-luajit", "node-sdk" } },
      { key = "W2small", mode = "w2", variant = "fast", n = N.w2small, items = N.w2small, contacts = N.w2small,
        contenders = { "ghl", "ghl-luajit" } } } },
  { key = "W3", runs = { { key = "W3", mode = "w3", variant = "slow", n = N.w3, items = N.w3, concurrency = CONCURRENCY,
               contenders = { "raw", "ghl", "ghl-luajit", "node-sdk" } } } },
  { key = "W4", runs = { { key = "W4", mode = "w4", variant = "limited", n = N.w4, items = N.w4,
               contenders = { "ghl", "ghl-luajit", "node-sdk" } } } },
  { key = "W5", runs = { { key = "W5", mode = "w5", variant = "agency", n = W5_CALLS, items = W5_CALLS,
               args = ("%d %d %d"):format(N.w5_locations, W5.concurrency, N.w5_per), agency = W5,
               failures_measured = true, contenders = { "ghl", "ghl-luajit", "node-sdk" },
               once = { ["node-sdk"] = true } } } },
  { key = "W6", group = true, runs = {
      { key = "W6", store = "redis", mode = "w6", variant = "agency", procs = W6.procs, per = N.w6_per,
        agency = W6, contenders = { "ghl", "ghl-luajit" } },
      { key = "W6", store = "none", mode = "w6", variant = "agency", procs = W6.procs, per = N.w6_per,
        agency = W6, contenders = { "ghl", "ghl-luajit" } } } },
  -- W7: the same rows through client:batch (no journal), then through ghl.job with a file journal
  { key = "W7", runs = {
      { key = "W7-batch", mode = "w7", variant = "agency", n = N.w7, items = N.w7, agency = W7, upserts = true,
        args = function() return ("%d %d batch %s"):format(N.w7, W7.concurrency, q(W7_ROWS)) end,
        contenders = { "ghl", "ghl-luajit" } },
      { key = "W7-job", mode = "w7", variant = "agency", n = N.w7, items = N.w7, agency = W7, upserts = true,
        args = function(f) return ("%d %d job %s %s"):format(N.w7, W7.concurrency, q(W7_ROWS), q(f.journal)) end,
        contenders = { "ghl", "ghl-luajit" } } } },
}

-- W7's rows: a CSV of contacts as a spreadsheet export has them, each with its own email
-- (and phone), tags as one cell "a;b", a company name with a comma in quotes
local function write_w7_rows()
  local FIRST = { "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "John" }
  local LAST = { "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Backus" }
  local out = { "First Name,Last Name,Email,Phone,Company Name,Source,Tags" }
  for i = 1, N.w7 do
    local f, l = FIRST[i % #FIRST + 1], LAST[(i // #FIRST) % #LAST + 1]
    out[#out + 1] = ('%s,%s,%s.%s.%05d@example.com,+1415%07d,"%s Engines, Ltd",bench import,imported;w7')
      :format(f, l, f:lower(), l:lower(), i, i, l)
  end
  write(W7_ROWS, table.concat(out, "\n") .. "\n")
end

-- W6's redis-server: on a free 127.0.0.1 port, no persistence, stopped at the end
local function start_redis()
  local r = require("spec.support.redis").start()
  r.pid = (read(r.dir .. "/redis.pid") or ""):match("%d+")
  return r
end

-- W7's journal on its disk and on tmpfs: one record (a write and an fdatasync) alone, n times
-- in a row, by the ghl under test (core.appender, as the journal writes)
local function w7_append()
  W7.append = {}
  local dirs = { { "disk", TMP } }
  if filesystem_of("/dev/shm"):find("^tmpfs") then dirs[2] = { "tmpfs", "/dev/shm" } end
  for _, d in ipairs(dirs) do
    local out = capture(("%s%s w7append %s %d"):format(CLEAN_ENV, BY_NAME.ghl.cmd, q(d[2]), SMOKE and 200 or 5000))
    local us, cpu = out:match("append_us=([%d.]+) append_cpu_us=([%d.]+)")
    if not us then
      failures[#failures + 1] = ("W7 appends in %s: %s"):format(d[2], out:sub(1, 300))
    else
      W7.append[d[1]] = { us = tonumber(us), cpu = tonumber(cpu), where = d[2], fs = filesystem_of(d[2]) }
      say("  W7 journal record alone in %s (%s): %s µs wall, %s µs CPU", d[2], W7.append[d[1]].fs, us, cpu)
    end
  end
end

local function run_all(srv)
  -- warm-up, not measured: file caches, the server's code, and the server's search pages
  -- (built once, then served as strings to every contender alike)
  say("warm-up (not measured)")
  for _, c in ipairs(CONTENDERS) do
    if not c.skip then
      sh(("%stimeout -k 5 %d %s w1 %s %d >/dev/null 2>&1"):format(CLEAN_ENV, SMOKE and 20 or 60, c.cmd,
        q(srv.urls.fast), SMOKE and 20 or 200))
    end
  end
  admin(srv, "POST", "/_bench/config", ('{"contacts":%d}'):format(N.w2))
  assert(sh(("%stimeout -k 5 60 %s w2 %s %d >/dev/null"):format(CLEAN_ENV, q(RAW), q(srv.urls.fast), N.w2)),
    "the warm-up walk failed")
  for _, wl in ipairs(WORKLOADS) do
    if ONLY and not ONLY[wl.key] then goto next_workload end
    local reps = wl.key == "W7" and REPS_W7 or wl.key == "W6" and REPS_W6 or wl.key == "W5" and REPS_W5
      or wl.key == "W4" and REPS_W4 or REPS
    if wl.key == "W7" then write_w7_rows() end
    say("%s: %d repetition%s", wl.key, reps, reps == 1 and "" or "s")
    local redis = wl.group and start_redis()
    if redis then say("redis-server: 127.0.0.1:%d", redis.port) end
    local ok, err = pcall(function()
      for rep = 1, reps do
        -- alternate: every contender once per repetition, in the same order
        for _, w in ipairs(wl.runs) do
          w.reps = reps
          for _, name in ipairs(w.contenders) do
            local c = BY_NAME[name]
            if not c.skip and not (rep > 1 and w.once and w.once[name]) then
              if wl.group then run_group(srv, w, c, rep, redis) else run_one(srv, w, c, rep) end
            end
          end
        end
      end
    end)
    if redis then redis.stop() end
    if not ok then error(err, 0) end
    if wl.key == "W7" then w7_append() end
    ::next_workload::
  end
end

------------------------------------------------------------------------------
-- medians, ratios, targets

local function med(key, contender, field)
  local xs = {}
  for _, r in ipairs(runs) do
    if r.key == key and r.contender == contender and r[field] and not r.failed_run then xs[#xs + 1] = r[field] end
  end
  return median(xs), #xs
end

local function fmt(v, pat)
  if v == nil then return "n/a" end
  return (pat or "%.3f"):format(v)
end

local function ratio(a, b)
  if not a or not b or b == 0 then return nil end
  return a / b
end

local targets = {} -- {workload, what, value, verdict}
local function target(workload, what, value, met, shown)
  local verdict = value == nil and "n/a" or (met and "met" or "**missed**")
  targets[#targets + 1] = { workload, what, shown or fmt(value, "%.2f"), verdict }
end
-- a figure the issue asks for without a goal
local function figure(workload, what, shown)
  targets[#targets + 1] = { workload, what, shown or "n/a", "(no goal)" }
end

-- W5 and W6: successful calls per second of the server's span (first request's arrival
-- to the last answer), median over the repetitions; and as a % of `limit` per second
local function span_goodput(key, name, limit)
  local xs = {}
  for _, r in ipairs(runs) do
    if r.key == key and r.contender == name and not r.failed_run and r.ok and r.span_ms and r.span_ms > 0 then
      xs[#xs + 1] = r.ok / (r.span_ms / 1000)
    end
  end
  local g = median(xs)
  return g, g and 100 * g / limit
end

-- a run's 429s as a % of the requests the server saw
local function share_429(key, name)
  local rej, req = med(key, name, "srv_rejected"), med(key, name, "srv_requests")
  return rej, req and req > 0 and 100 * rej / req or nil
end

-- CPU per successful call (µs)
local function cpu_per_call(key, name)
  local c, ok = med(key, name, "cpu"), med(key, name, "ok")
  return c and ok and ok > 0 and c * 1e6 / ok or nil
end

-- W7: what the journal costs an interpreter, per row (µs) and as a share, from the medians
-- of the two runs' loops (os.clock and the wall clock inside the process, start-up left out):
-- the job with its file journal against client:batch without one, and what the job's
-- journal put itself took (JSON encoding, write, fdatasync)
local function w7_cost(name)
  local n = N.w7
  local bc, jc = med("W7-batch", name, "loop_cpu_ms"), med("W7-job", name, "loop_cpu_ms")
  local bw, jw = med("W7-batch", name, "loop_ms"), med("W7-job", name, "loop_ms")
  if not (bc and jc and bw and jw and jc > 0 and jw > 0) then return nil end
  local pc, pw, puts = med("W7-job", name, "journal_cpu_ms"), med("W7-job", name, "journal_ms"),
    med("W7-job", name, "journal_puts")
  return {
    batch_cpu = bc * 1000 / n, job_cpu = jc * 1000 / n, diff_cpu = (jc - bc) * 1000 / n,
    diff_cpu_pct = 100 * (jc - bc) / jc,
    batch_wall = bw * 1000 / n, job_wall = jw * 1000 / n, diff_wall = (jw - bw) * 1000 / n,
    diff_wall_pct = 100 * (jw - bw) / jw,
    put_cpu = pc and pc * 1000 / n, put_cpu_pct = pc and 100 * pc / jc,
    put_wall = pw and pw * 1000 / n, put_wall_pct = pw and 100 * pw / jw,
    puts = puts, per_put_wall = pw and puts and puts > 0 and pw * 1000 / puts,
    per_put_cpu = pc and puts and puts > 0 and pc * 1000 / puts,
  }
end

local function contender_table(out, key, fields, contenders)
  local head, sep = { "contender" }, { "---" }
  for _, f in ipairs(fields) do head[#head + 1] = f[1]; sep[#sep + 1] = "---:" end
  out[#out + 1] = "| " .. table.concat(head, " | ") .. " |"
  out[#out + 1] = "|" .. table.concat(sep, "|") .. "|"
  for _, name in ipairs(contenders) do
    local row = { "`" .. name .. "`" }
    if BY_NAME[name].skip then
      row[#row + 1] = "skipped: " .. BY_NAME[name].skip
      for _ = 2, #fields do row[#row + 1] = "" end
    else
      for _, f in ipairs(fields) do row[#row + 1] = f[2](key, name) end
    end
    out[#out + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
  out[#out + 1] = ""
end

local function range(key, name, field)
  local lo, hi, n = math.huge, -math.huge, 0
  for _, r in ipairs(runs) do
    if r.key == key and r.contender == name and r[field] and not r.failed_run then
      lo, hi, n = math.min(lo, r[field]), math.max(hi, r[field]), n + 1
    end
  end
  return n > 1 and lo or nil, hi
end
local function col_wall(key, name)
  local m = med(key, name, "wall")
  local lo, hi = range(key, name, "wall")
  if m and lo then return ("%.3f s (%.2f–%.2f)"):format(m, lo, hi) end
  return fmt(m, "%.3f s")
end
local function col_cpu(key, name) return fmt(med(key, name, "cpu"), "%.3f s") end
local function col_rss(key, name) return fmt(med(key, name, "rss_mb"), "%.1f MB") end
local function col_loop(key, name) return fmt(med(key, name, "loop_ms"), "%.1f ms") end
local function col_srv(key, name)
  local req, conn = med(key, name, "srv_requests"), med(key, name, "srv_connections")
  return ("%s / %s"):format(fmt(req, "%.0f"), fmt(conn, "%.0f"))
end
local function col_srv_cpu(key, name)
  local c, w = med(key, name, "srv_cpu"), med(key, name, "wall")
  if not c or not w or w == 0 then return "n/a" end
  return ("%.2f s (%.0f%%)"):format(c, 100 * c / w)
end
local function per_request(n)
  return function(key, name)
    local l = med(key, name, "loop_ms")
    return l and ("%.0f µs"):format(l * 1000 / n) or "n/a"
  end
end

local function info()
  local cpu = (read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "unknown"
  local mem = (read("/proc/meminfo") or ""):match("MemTotal:%s*(%d+)")
  local node_v = BY_NAME["node-sdk"].skip and "not used" or capture("node --version")
  local ghl_v = capture(("cd %s && lua5.4 -e \"package.path='lua/?.lua;'..package.path; "
    .. "package.cpath='build/lua5.4/?.so;'..package.cpath; print(require('ghl').VERSION)\""):format(q(SNAPSHOT)))
  return {
    date = os.date("!%Y-%m-%d %H:%M UTC"),
    nproc = capture("nproc"),
    cpu = cpu,
    mem = mem and ("%.1f GiB"):format(tonumber(mem) / 1048576) or "unknown",
    kernel = capture("uname -sr"),
    load = LOAD_AT_START,
    lua = capture("lua5.4 -v"),
    luajit = capture("luajit -v"),
    node = node_v,
    libcurl = capture(q(RAW) .. " --version"):match("^(%S+)") or "unknown",
    nginx = capture("/usr/sbin/nginx -v"):gsub("^nginx version: ", ""),
    ghl = ghl_v .. " (" .. capture(("git -C %s describe --always --dirty"):format(q(ROOT))) .. ")",
  }
end

local function report(sdk_version, total_s)
  local I = info()
  local out = {}
  local function add(s, ...) out[#out + 1] = select("#", ...) > 0 and s:format(...) or s end
  local smoke_note = SMOKE and " (smoke run: tiny counts, the targets are not meaningful)" or ""

  add("# ghl benchmark%s", SMOKE and " (smoke)" or "")
  add("")
  add("Made by `make %s` (`lua5.4 bench/run.lua%s`) on %s in %d s%s.", SMOKE and "bench-smoke" or "bench",
    SMOKE and " --smoke" or "", I.date, total_s, smoke_note)
  add("")
  add("| | |")
  add("|---|---|")
  add("| machine | %s CPUs, %s, %s RAM, %s; load average %s when the run started |", I.nproc, I.cpu, I.mem,
    I.kernel, I.load)
  add("| ghl | %s |", I.ghl)
  add("| Lua | %s |", I.lua)
  add("| LuaJIT | %s |", I.luajit)
  add("| Node.js | %s |", I.node)
  add("| Node SDK | %s |", BY_NAME["node-sdk"].skip and ("skipped: " .. BY_NAME["node-sdk"].skip)
    or ("`@gohighlevel/api-client` " .. tostring(sdk_version) .. " (axios)"))
  add("| libcurl | %s (raw and ghl) |", I.libcurl)
  add("| server | nginx %s + Lua module, 1 worker, loopback, keep-alive, no gzip |", I.nginx)
  add("| repetitions | W1–W3: %d each (medians); W4: %d; W5: %d (node-sdk: 1); W6: %d; W7: %d |", REPS, REPS_W4,
    REPS_W5, REPS_W6, REPS_W7)
  add("| W7's journal | %s, in `build/bench/tmp` |", filesystem_of(TMP))
  add("")

  -- W1
  local raw_w, raw_c = med("W1", "raw", "wall"), med("W1", "raw", "cpu")
  local node_w = med("W1", "node-sdk", "wall")
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local gw, gc = med("W1", g, "wall"), med("W1", g, "cpu")
    local r1, r2, r3 = ratio(gw, raw_w), ratio(gc, raw_c), ratio(node_w, gw)
    target("W1", ("`%s` wall / `raw` wall ≤ 1.1"):format(g), r1, r1 and r1 <= 1.1, r1 and ("%.2f×"):format(r1))
    target("W1", ("`%s` CPU / `raw` CPU ≤ 1.5"):format(g), r2, r2 and r2 <= 1.5, r2 and ("%.2f×"):format(r2))
    target("W1", ("`node-sdk` wall / `%s` wall ≥ 8"):format(g), r3, r3 and r3 >= 8, r3 and ("%.2f×"):format(r3))
  end
  -- W1: ghl against the do-it-yourself peer (Lua 5.1 + lua-curl + lua-cjson)
  local lc_w, lc_c = med("W1", "lua-curl", "wall"), med("W1", "lua-curl", "cpu")
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local r1, r2 = ratio(med("W1", g, "wall"), lc_w), ratio(med("W1", g, "cpu"), lc_c)
    figure("W1", ("`%s` wall / `lua-curl` wall"):format(g), r1 and ("%.2f×"):format(r1))
    figure("W1", ("`%s` CPU / `lua-curl` CPU"):format(g), r2 and ("%.2f×"):format(r2))
  end
  -- W2
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local big, small = med("W2", g, "rss_mb"), med("W2small", g, "rss_mb")
    local r = ratio(big, small)
    target("W2", ("`%s` peak RSS %s / %s contacts ≤ 1.2"):format(g, N.w2, N.w2small), r, r and r <= 1.2,
      r and ("%.2f× (%.1f / %.1f MB)"):format(r, big, small))
  end
  -- W3
  local ideal = N.w3 * LATENCY_MS / CONCURRENCY / 1000
  local node3 = med("W3", "node-sdk", "wall")
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local gw = med("W3", g, "wall")
    local r = ratio(gw, ideal)
    target("W3", ("`%s` wall / ideal (%.0f ms) ≤ 1.3"):format(g, ideal * 1000), r, r and r <= 1.3,
      r and ("%.2f× (%.3f s)"):format(r, gw))
    local rn = ratio(gw, node3)
    target("W3", ("`%s` wall ≤ `node-sdk` wall"):format(g), rn, rn and rn <= 1.0,
      rn and ("%.2f× of node-sdk"):format(rn))
  end
  -- W4
  local function goodput(name)
    local xs = {}
    for _, r in ipairs(runs) do
      if r.key == "W4" and r.contender == name and r.ok and r.loop_ms and r.loop_ms > 0 and not r.failed_run then
        xs[#xs + 1] = r.ok / (r.loop_ms / 1000)
      end
    end
    return median(xs)
  end
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local gp, failed = goodput(g), med("W4", g, "failed")
    local pct = gp and 100 * gp / LIMIT_PER_S
    target("W4", ("`%s` goodput ≥ 95%% of %d/s, 0 failed calls"):format(g, LIMIT_PER_S), pct,
      pct and pct >= 95 and failed == 0, pct and ("%.1f%%, %d failed"):format(pct, failed or -1))
  end
  -- W5
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local gp, pct = span_goodput("W5", g, W5.limit_per_s)
    target("W5", ("`%s` goodput ≥ 90%% of the sum of the limits (%.0f/s)"):format(g, W5.limit_per_s), pct,
      pct and pct >= 90, pct and ("%.1f%% (%.0f/s)"):format(pct, gp))
    local failed, rej = med("W5", g, "failed"), med("W5", g, "srv_rejected")
    target("W5", ("`%s` 0 failed calls"):format(g), failed, failed == 0, failed and ("%.0f"):format(failed))
    target("W5", ("`%s` 0 answers 429"):format(g), rej, rej == 0, rej and ("%.0f"):format(rej))
    local cpr = cpu_per_call("W5", g)
    figure("W5", ("`%s` CPU per call"):format(g), cpr and ("%.0f µs"):format(cpr))
  end
  do
    local _, npct = span_goodput("W5", "node-sdk", W5.limit_per_s)
    local nf, nr = med("W5", "node-sdk", "failed"), med("W5", "node-sdk", "srv_rejected")
    local ncpr = cpu_per_call("W5", "node-sdk")
    figure("W5", "`node-sdk` (pool of 64, `rateLimitRetry: true`): goodput, failed calls, 429s, CPU per call",
      npct and ("%.1f%%, %.0f failed, %.0f × 429, %s"):format(npct, nf or -1, nr or -1,
        ncpr and ("%.0f µs"):format(ncpr) or "n/a"))
  end
  -- W6
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local key = "W6-redis"
    local unsupported
    for _, r in ipairs(runs) do if r.key == key and r.contender == g and r.unsupported then unsupported = true end end
    local _, pct = span_goodput(key, g, W6.limit_per_s)
    local failed = med(key, g, "failed")
    local rej, rpct = share_429(key, g)
    local why = unsupported and "this ghl has no `pacing_store`" or nil
    target("W6", ("`%s` with Redis: goodput ≥ 95%% of %.0f/s"):format(g, W6.limit_per_s), pct, pct and pct >= 95,
      why or (pct and ("%.1f%%"):format(pct)))
    target("W6", ("`%s` with Redis: 0 failed calls, ≤ 1%% answers 429"):format(g), rpct,
      failed == 0 and rpct and rpct <= 1, why or (rpct and ("%.0f failed, %.0f × 429 (%.1f%%)"):format(failed, rej, rpct)))
    local _, npct = span_goodput("W6-none", g, W6.limit_per_s)
    local nfailed = med("W6-none", g, "failed")
    local nrej, nrpct = share_429("W6-none", g)
    figure("W6", ("`%s` without a shared store: goodput, failed calls, 429s"):format(g),
      npct and ("%.1f%%, %.0f failed, %.0f × 429 (%.1f%%)"):format(npct, nfailed or -1, nrej or -1, nrpct or -1))
  end

  -- W7
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local gp, pct = span_goodput("W7-job", g, W7.limit_per_s)
    local failed, rej = med("W7-job", g, "failed"), med("W7-job", g, "srv_rejected")
    target("W7", ("`%s` ghl.job with a file journal: goodput ≥ 95%% of %.0f/s, 0 failed rows"):format(g,
      W7.limit_per_s), pct, pct and pct >= 95 and failed == 0,
      pct and ("%.1f%% (%.1f/s), %.0f failed, %.0f × 429"):format(pct, gp, failed or -1, rej or -1))
    local c = w7_cost(g)
    figure("W7", ("`%s` the journal's cost per row: job − batch, CPU and wall; of it, the journal's put"):format(g),
      c and ("CPU %+.0f µs (%.0f%% of the job's), put %.0f µs (%.0f%%); wall %+.0f µs (%.1f%%), put %.0f µs (%.1f%%)")
        :format(c.diff_cpu, c.diff_cpu_pct, c.put_cpu or -1, c.put_cpu_pct or -1, c.diff_wall, c.diff_wall_pct,
          c.put_wall or -1, c.put_wall_pct or -1))
  end
  figure("W7", "`node-sdk`", "not run: the official SDK has no job runner")

  add("## Targets%s", smoke_note)
  add("")
  add("| workload | target | measured | |")
  add("|---|---|---:|---|")
  for _, t in ipairs(targets) do add("| %s | %s | %s | %s |", t[1], t[2], t[3], t[4]) end
  add("")
  if #failures > 0 then
    add("**Failed runs:**")
    add("")
    for _, f in ipairs(failures) do add("- %s", (f:gsub("\n%s*", " "))) end
    add("")
  end

  local four = { "raw", "ghl", "ghl-luajit", "node-sdk" }
  add("## W1: %s sequential `GET /contacts/{id}` (1.1 KB contact)", N.w1)
  add("")
  contender_table(out, "W1", {
    { "wall", col_wall }, { "CPU (user+sys)", col_cpu }, { "peak RSS", col_rss },
    { "loop (in process)", col_loop }, { "per request", per_request(N.w1) },
    { "server: requests / connections", col_srv }, { "server CPU (of wall)", col_srv_cpu },
  }, { "raw", "lua-curl", "ghl", "ghl-luajit", "node-sdk" })
  local function r_line(label, a, b)
    local r = ratio(a, b)
    add("- %s: %s", label, r and ("%.2f×"):format(r) or "n/a")
  end
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    r_line(("`%s` wall / `raw` wall"):format(g), med("W1", g, "wall"), raw_w)
    r_line(("`%s` CPU / `raw` CPU"):format(g), med("W1", g, "cpu"), raw_c)
    r_line(("`%s` wall / `lua-curl` wall"):format(g), med("W1", g, "wall"), lc_w)
    r_line(("`%s` CPU / `lua-curl` CPU"):format(g), med("W1", g, "cpu"), lc_c)
    r_line(("`node-sdk` wall / `%s` wall"):format(g), node_w, med("W1", g, "wall"))
  end
  add("")
  add("`lua-curl` is what a Lua user writes instead of a library: Lua 5.1, Debian's lua-curl (one reused easy "
    .. "handle; the binding has no getinfo, so the status comes from the status line in the header callback) "
    .. "and lua-cjson, decoding each contact and checking its id, in a loop (bench/luacurl_bench.lua).")
  add("")

  add("## W2: iterate %s contacts by pages of 100 (`POST /contacts/search`, searchAfter)", N.w2)
  add("")
  contender_table(out, "W2", {
    { "wall", col_wall }, { "CPU (user+sys)", col_cpu }, { "peak RSS", col_rss },
    { "loop (in process)", col_loop }, { "server: requests / connections", col_srv },
    { "server CPU (of wall)", col_srv_cpu },
  }, four)
  add("The same walk over %s contacts, for peak RSS against the number of contacts:", N.w2small)
  add("")
  contender_table(out, "W2small", {
    { "wall", col_wall }, { "CPU (user+sys)", col_cpu }, { "peak RSS", col_rss },
    { "server: requests / connections", col_srv },
  }, { "ghl", "ghl-luajit" })
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    r_line(("`%s` peak RSS %s / %s contacts"):format(g, N.w2, N.w2small), med("W2", g, "rss_mb"),
      med("W2small", g, "rss_mb"))
  end
  add("")

  add("## W3: %d `GET /contacts/{id}` with %d ms latency each, concurrency %d (ideal %.0f ms)",
    N.w3, LATENCY_MS, CONCURRENCY, ideal * 1000)
  add("")
  contender_table(out, "W3", {
    { "wall", col_wall }, { "wall / ideal", function(key, name)
      local r = ratio(med(key, name, "wall"), ideal) return r and ("%.2f×"):format(r) or "n/a" end },
    { "loop (in process)", col_loop }, { "loop / ideal", function(key, name)
      local l = med(key, name, "loop_ms") local r = l and ratio(l / 1000, ideal) return r and ("%.2f×"):format(r) or "n/a" end },
    { "CPU (user+sys)", col_cpu }, { "peak RSS", col_rss },
    { "server: max in flight", function(key, name) return fmt(med(key, name, "srv_max_inflight"), "%.0f") end },
    { "server: requests / connections", col_srv },
  }, four)
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    r_line(("`%s` wall / `node-sdk` wall"):format(g), med("W3", g, "wall"), node3)
  end
  add("")

  add("## W4: %d `GET /contacts/{id}` under a limit of %d per 1000 ms window (GHL's headers, 429 without Retry-After)",
    N.w4, LIMIT_PER_S)
  add("")
  add("%d repetition%s. `raw` is not meaningful here and is skipped. ghl: sequential calls with its default pacing; "
    .. "node-sdk: sequential calls with `rateLimitRetry: true`.", REPS_W4, REPS_W4 == 1 and "" or "s (medians)")
  add("")
  local windows = math.max(1, math.ceil(N.w4 / LIMIT_PER_S) - 1)
  contender_table(out, "W4", {
    { "goodput", function(_, name) local g = goodput(name) return g and ("%.1f/s"):format(g) or "n/a" end },
    { "% of 50/s", function(_, name) local g = goodput(name) return g and ("%.1f%%"):format(100 * g / LIMIT_PER_S) or "n/a" end },
    { "failed calls", function(key, name) return fmt(med(key, name, "failed"), "%.0f") end },
    { "429s answered", function(key, name) return fmt(med(key, name, "srv_rejected"), "%.0f") end },
    { "loop (in process)", col_loop }, { "wall", col_wall }, { "CPU (user+sys)", col_cpu },
    { "peak RSS", col_rss },
  }, { "ghl", "ghl-luajit", "node-sdk" })
  add("Goodput is successful calls per second of the loop (first request to last answer). A client that "
    .. "spends each window at once needs just over %d windows for %d calls, so the ceiling is %.0f%%.",
    windows, N.w4, 100 * N.w4 / windows / LIMIT_PER_S)
  add("")

  local w5_ceiling = 100 * W5.concurrency * 1000 / W5.latency_ms / W5.limit_per_s
  add("## W5 \"agency\": %d locations × %d `GET /locations/{locationId}/tags`, concurrency %d, a limit of %d per %d ms "
    .. "per location, %d ms latency", N.w5_locations, N.w5_per, W5.concurrency, W5.max, W5.interval_ms,
    W5.latency_ms)
  add("")
  add("%d repetition%s. One process. The calls are listed location by location (all of the first location's, "
    .. "then the next's), as a job over an agency's locations makes them. ghl: one `client:batch(calls, "
    .. "{concurrency = %d})` of an agency client (`ghl.new{oauth = app, company_id = ...}` after "
    .. "`app:exchange(code)` of an agency install), calls `{op = \"locations.get-location-tags\", params = "
    .. "{locationId = ...}}`: each location's token is minted from the agency's when its first call needs it "
    .. "(the server answers mints at once and does not count them). "
    .. "node-sdk: `locations.getLocationTags({locationId})` with one token, from a pool of %d async workers over "
    .. "`Promise.all`, `rateLimitRetry: true` (it waits `X-RateLimit-Interval-Milliseconds` after a 429, 3 retries).",
    REPS_W5, REPS_W5 == 1 and "" or "s (medians; node-sdk once, it takes about a minute)", W5.concurrency,
    W5.concurrency)
  add("")
  contender_table(out, "W5", {
    { "goodput", function(key, name)
      local g = span_goodput(key, name, W5.limit_per_s) return g and ("%.0f/s"):format(g) or "n/a" end },
    { ("%% of %.0f/s"):format(W5.limit_per_s), function(key, name)
      local _, p = span_goodput(key, name, W5.limit_per_s) return p and ("%.1f%%"):format(p) or "n/a" end },
    { "failed calls", function(key, name) return fmt(med(key, name, "failed"), "%.0f") end },
    { "429s answered", function(key, name) return fmt(med(key, name, "srv_rejected"), "%.0f") end },
    { "server: span", function(key, name) return fmt(med(key, name, "span_ms"), "%.0f ms") end },
    { "wall", col_wall }, { "CPU (user+sys)", col_cpu },
    { "CPU per call", function(key, name) local c = cpu_per_call(key, name) return c and ("%.0f µs"):format(c) or "n/a" end },
    { "peak RSS", col_rss },
    { "server: max in flight", function(key, name) return fmt(med(key, name, "srv_max_inflight"), "%.0f") end },
    { "server: requests / connections", col_srv },
    { "server: locations", function(key, name) return fmt(med(key, name, "srv_locations"), "%.0f") end },
  }, { "ghl", "ghl-luajit", "node-sdk" })
  add("Goodput is successful calls per second of the server's span (the first request's arrival to the last "
    .. "answer), against the sum of the %d per-location limits (%.0f/s). Two ceilings: %d calls in flight at "
    .. "%d ms each carry at most %.0f calls/s (%.0f%% of the limits), and with fixed windows a client that "
    .. "spends each of a location's windows at once needs just over %d window%s for its %d calls.",
    N.w5_locations, W5.limit_per_s, W5.concurrency, W5.latency_ms, W5.concurrency * 1000 / W5.latency_ms,
    w5_ceiling, math.max(1, math.ceil(N.w5_per / W5.max) - 1), math.ceil(N.w5_per / W5.max) - 1 == 1 and "" or "s",
    N.w5_per)
  add("")

  add("## W6 \"many processes\": %d processes × %d sequential `GET /locations/{locationId}/tags` of one location, "
    .. "a limit of %d per %d ms, %d ms latency", W6.procs, N.w6_per, W6.max, W6.interval_ms, W6.latency_ms)
  add("")
  add("%d repetition%s. The %d processes start together. `redis`: each client has "
    .. "`pacing_store = ghl.store.redis{...}` on a redis-server the benchmark started on the loopback, so the "
    .. "four pace against one budget; `none`: each paces on its own (ghl's default), as four cron jobs would.",
    REPS_W6, REPS_W6 == 1 and "" or "s (medians)", W6.procs)
  add("")
  do
    local head = "| contender | store | goodput | % of " .. ("%.0f/s"):format(W6.limit_per_s)
      .. " | failed calls | 429s answered | retries | server: span | CPU (all processes) | CPU per call "
      .. "(in the loop) | Redis round trips per call | redis-server CPU | peak RSS (largest) |"
    add(head)
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for _, g in ipairs{ "ghl", "ghl-luajit" } do
      for _, store in ipairs{ "redis", "none" } do
        local key = "W6-" .. store
        local unsupported
        for _, r in ipairs(runs) do
          if r.key == key and r.contender == g and r.unsupported then unsupported = true end
        end
        if unsupported then
          add("| `%s` | %s | skipped: this ghl has no `pacing_store` | | | | | | | | | | |", g, store)
        else
          local gp, pct = span_goodput(key, g, W6.limit_per_s)
          local rej, rpct = share_429(key, g)
          local lc, okn = med(key, g, "loop_cpu_ms"), med(key, g, "ok")
          local cpr = lc and okn and okn > 0 and lc * 1000 / okn or nil
          local rc = med(key, g, "redis_commands")
          add("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", g, store,
            gp and ("%.2f/s"):format(gp) or "n/a", pct and ("%.1f%%"):format(pct) or "n/a",
            fmt(med(key, g, "failed"), "%.0f"),
            rej and ("%.0f (%.1f%% of %.0f)"):format(rej, rpct or 0, med(key, g, "srv_requests") or 0) or "n/a",
            fmt(med(key, g, "retries"), "%.0f"), fmt(med(key, g, "span_ms"), "%.0f ms"),
            fmt(med(key, g, "cpu"), "%.3f s"), cpr and ("%.0f µs"):format(cpr) or "n/a",
            store == "redis" and rc and okn and okn > 0 and ("%.1f"):format(rc / okn) or "–",
            store == "redis" and fmt(med(key, g, "redis_cpu"), "%.2f s") or "–", fmt(med(key, g, "rss_mb"), "%.1f MB"))
        end
      end
    end
    add("")
  end
  local w6_calls = W6.procs * N.w6_per
  local w6_windows = math.max(1, math.ceil(w6_calls / W6.max) - 1)
  add("Goodput is successful calls of all %d processes per second of the server's span. CPU per call is the "
    .. "processes' CPU time during their loops (`os.clock`, start-up left out) over the calls that succeeded; "
    .. "Redis round trips are the redis-server's count of EVALSHA, EVAL and SCRIPT calls over the run (what "
    .. "the pacing sends). A client that spends "
    .. "each window at once needs just over %d windows for %d calls, so the ceiling is %.0f%%.",
    W6.procs, w6_windows, w6_calls, 100 * w6_calls / (w6_windows * W6.interval_ms / 1000) / W6.limit_per_s)
  add("")

  add("## W7 bulk upserts: %d contacts from a CSV file through `ghl.job{op = \"upsert\"}` with a file journal, "
    .. "and through `client:batch` without one; a limit of %d per %d ms, %d ms latency", N.w7, W7.max,
    W7.interval_ms, W7.latency_ms)
  add("")
  add("%d repetition%s. GHL's limit (%d per 10 s per location) with time running %d times faster, latency "
    .. "too (GHL answers in about %d ms): %.0f/s. One process, concurrency %d (the default of both). The rows: "
    .. "a CSV file of %d contacts (`First Name,Last Name,Email,Phone,Company Name,Source,Tags`, each email "
    .. "its own), written once in `build/bench/tmp`. `job`: `ghl.job{client = client, rows = file, op = "
    .. "\"upsert\", journal = file, concurrency = %d}:run()`: contacts.upsert-contact for each row, the columns "
    .. "mapped by name, each row checked, its `sent` record written and fdatasync'ed before its request "
    .. "leaves and its `done` record after the answer; the journal is a new file in `build/bench/tmp` (%s). "
    .. "`batch`: the same file read with `ghl.csv`, the same params, one `client:batch(calls, {concurrency = "
    .. "%d})`, no journal. The server upserts by email and counts new contacts: every run must make %d new "
    .. "contacts and no second upsert of one. `node-sdk`: not run, the official SDK has no job runner.",
    REPS_W7, REPS_W7 == 1 and "" or "s (medians)", W7.max, 10000 // W7.interval_ms,
    W7.latency_ms * 10000 // W7.interval_ms, W7.limit_per_s, W7.concurrency, N.w7, W7.concurrency,
    filesystem_of(TMP), W7.concurrency, N.w7)
  add("")
  add("| contender | run | goodput | %% of %.0f/s | failed rows | 429s answered | retries | server: span | wall | "
    .. "CPU (user+sys) | CPU per row (in the loop) | journal records | peak RSS | server: requests / connections |",
    W7.limit_per_s)
  add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    for _, run in ipairs{ "batch", "job" } do
      local key = "W7-" .. run
      local gp, pct = span_goodput(key, g, W7.limit_per_s)
      local lc = med(key, g, "loop_cpu_ms")
      add("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", g,
        run == "job" and "`ghl.job`, file journal" or "`client:batch`, no journal",
        gp and ("%.1f/s"):format(gp) or "n/a", pct and ("%.1f%%"):format(pct) or "n/a",
        fmt(med(key, g, "failed"), "%.0f"), fmt(med(key, g, "srv_rejected"), "%.0f"),
        fmt(med(key, g, "retries"), "%.0f"), fmt(med(key, g, "span_ms"), "%.0f ms"), col_wall(key, g),
        col_cpu(key, g), lc and ("%.0f µs"):format(lc * 1000 / N.w7) or "n/a",
        run == "job" and fmt(med(key, g, "journal_records"), "%.0f") or "–", col_rss(key, g), col_srv(key, g))
    end
  end
  add("| `node-sdk` | not run: the official SDK has no job runner | | | | | | | | | | | | |")
  add("")
  add("The journal's cost per row (µs; the share is of the job's time in its loop, start-up left out):")
  add("")
  add("| contender | CPU: batch | CPU: job | job − batch | of the job's CPU | in the journal's put | of the job's CPU "
    .. "| wall: batch | wall: job | job − batch | of the job's wall | in the journal's put | of the job's wall "
    .. "| one record (write + fdatasync): wall, CPU |")
  add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for _, g in ipairs{ "ghl", "ghl-luajit" } do
    local c = w7_cost(g)
    if c then
      add("| `%s` | %.0f | %.0f | %+.0f | %.0f%% | %s | %s | %.0f | %.0f | %+.0f | %.1f%% | %s | %s | %s |", g,
        c.batch_cpu, c.job_cpu, c.diff_cpu, c.diff_cpu_pct, fmt(c.put_cpu, "%.0f"), fmt(c.put_cpu_pct, "%.0f%%"),
        c.batch_wall, c.job_wall, c.diff_wall, c.diff_wall_pct, fmt(c.put_wall, "%.0f"),
        fmt(c.put_wall_pct, "%.1f%%"), c.per_put_wall and ("%.0f µs, %.0f µs"):format(c.per_put_wall, c.per_put_cpu)
        or "n/a")
    else
      add("| `%s` | n/a | | | | | | | | | | | | |", g)
    end
  end
  add("")
  local ap = W7.append or {}
  if ap.disk then
    add("One journal record alone (`core.appender`, a write and an fdatasync, %d in a row): %.0f µs wall, %.0f µs "
      .. "CPU in `build/bench/tmp` (%s)%s.", SMOKE and 200 or 5000, ap.disk.us, ap.disk.cpu, ap.disk.fs,
      ap.tmpfs and (", %.1f µs wall, %.1f µs CPU in %s (%s)"):format(ap.tmpfs.us, ap.tmpfs.cpu, ap.tmpfs.where,
        ap.tmpfs.fs) or "")
    add("")
  end
  local w7_windows = math.max(1, math.ceil(N.w7 / W7.max) - 1)
  add("Goodput is rows done per second of the server's span (first request's arrival to the last answer). "
    .. "\"job − batch\" is all that ghl.job adds: reading rows through its mapper, the checks of the dry run, "
    .. "a row's hash, and the journal; \"in the journal's put\" is the part spent in the journal itself (timed "
    .. "around each put: two a row, each a JSON line, a write and an fdatasync). Under the limit the wall "
    .. "is mostly the limit's: the job's wall minus the batch's is what of the journal's time the pacer's "
    .. "waits did not hide. A client that spends each window at once needs just over %d window%s for %d rows "
    .. "(a ceiling of %.0f%%); ghl's pacer dates a window it opened from the window's first answer (the "
    .. "server may have counted it any time after it left), so each window costs it about a latency and a "
    .. "20 ms margin more.",
    w7_windows, w7_windows == 1 and "" or "s", N.w7, 100 * N.w7 / (w7_windows * W7.interval_ms / 1000) / W7.limit_per_s)
  add("")

  add("## How it was measured")
  add("")
  add("- One nginx (1 worker, Lua module, `access_log off`, keep-alive, no gzip) on 127.0.0.1 serves four "
    .. "variants on four ports: fast, +%d ms per request (`ngx.sleep`), rate-limited (fixed 1000 ms window "
    .. "that starts at the first request after the previous one ended, %d per window), and per location (W5, "
    .. "W6: such a window for each location id in the path, counted on arrival, every answer after the latency, "
    .. "429 with `Retry-After` over the limit). Bodies are precomputed: "
    .. "the contact is 1,118 bytes; a search page is 100 contacts of about 1.1 KB with `searchAfter`, built "
    .. "once from precomputed pieces (in the warm-up) and then served as a string. Every request needs `Authorization: Bearer` and `Version`; the five "
    .. "`X-RateLimit-*` headers are on every answer.", LATENCY_MS, LIMIT_PER_S)
  add("- Each contender runs each workload as its own process under `/usr/bin/time -f \"%e %U %S %M\"`: "
    .. "wall, CPU = user + sys, peak RSS of that process (interpreter start-up included). \"loop\" is the "
    .. "time from the first request to the last answer, taken inside the process.")
  add("- Contenders alternate within each repetition (raw, ghl, ghl-luajit, node-sdk, raw, ...); the "
    .. "tables show medians (wall: median and, in brackets, the fastest and slowest repetition). "
    .. "Before each run the server's counters (and the rate-limit window) are reset; "
    .. "after it the server reports how many requests and TCP connections it saw, and its worker's CPU time.")
  add("- `raw` (bench/raw.c): libcurl, one reused easy handle (W3: curl multi with %d reused handles), "
    .. "status check only, no JSON decoding; W2 finds the last `\"searchAfter\":[...]` in the text. "
    .. "`ghl` / `ghl-luajit` (bench/ghl_bench.lua): `client.contacts:get`, `client.contacts:each{pageLimit=100}`, "
    .. "`client:batch(calls, {concurrency=%d})`, decoded Lua tables. `node-sdk` (bench/node_bench.js): "
    .. "`HighLevel.BASE_URL` set to the server before `new HighLevel({privateIntegrationToken, logLevel: 'none'})`, "
    .. "`contacts.getContact`, `contacts.searchContactsAdvanced` in a loop carrying `searchAfter`, "
    .. "a pool of %d async workers over `Promise.all`; axios with Node's keep-alive global agent.",
    CONCURRENCY, CONCURRENCY, CONCURRENCY)
  add("- `lua-curl` (bench/luacurl_bench.lua, W1 only): Lua 5.1, Debian's lua-curl binding, one reused easy "
    .. "handle, the status from the status line, the body decoded by lua-cjson.")
  add("- W5 and W6 run on the per-location port; the server's span (first request's arrival to the last answer) "
    .. "is their time, its 429 count theirs. W6 starts the %d processes at once from one shell and, with `redis`, "
    .. "a redis-server of its own on a free loopback port (no persistence), flushed before each run.", W6.procs)
  add("- W7 runs on the per-location port too (one location), with the limit and latency above, and "
    .. "`POST /contacts/upsert` answering as GHL does (`{contact, new, traceId}`, matched by email, else phone). "
    .. "Each job run has a new journal file in `build/bench/tmp` (%s: a journal fdatasyncs each record, which "
    .. "costs far less on tmpfs than on a disk); CPU and wall per row are the process's own, in its loop "
    .. "(`os.clock` and the wall clock), and the journal's put is timed inside the job's process.",
    filesystem_of(TMP))
  add("- Every contender's answers are checked (the contact id asked for; the number of contacts walked; the "
    .. "location of the tags).")
  add("")
  add("![wall time per workload](%s)", SMOKE and "smoke.png" or "chart.png")
  add("")
  return table.concat(out, "\n")
end

------------------------------------------------------------------------------
-- the chart (gnuplot): one panel per measurement, bars per contender

local function chart(path)
  if not sh("command -v gnuplot >/dev/null 2>&1") then
    say("bench: gnuplot is not installed: no chart (Debian package gnuplot-nox)")
    return
  end
  local names = { "raw", "lua-curl", "ghl", "ghl-luajit", "node-sdk" }
  local panels = {
    { title = ("W1: %s GETs — wall (s)"):format(N.w1), key = "W1", field = "wall" },
    { title = ("W1: %s GETs — CPU user+sys (s)"):format(N.w1), key = "W1", field = "cpu" },
    { title = ("W2: %s contacts — wall (s)"):format(N.w2), key = "W2", field = "wall" },
    { title = ("W2: peak RSS (MB), %s vs %s contacts"):format(N.w2, N.w2small), key = "W2", field = "rss_mb", small = true },
    { title = ("W3: %d GETs, 50 ms each, concurrency %d — wall (s)"):format(N.w3, CONCURRENCY), key = "W3", field = "wall",
      line = N.w3 * LATENCY_MS / CONCURRENCY / 1000, line_title = "ideal" },
    { title = ("W4: goodput, %% of %d/s"):format(LIMIT_PER_S), key = "W4", field = "goodput_pct", line = 100,
      line_title = "limit" },
    { title = ("W5: %d locations × %d, goodput %% of %.0f/s"):format(N.w5_locations, N.w5_per, W5.limit_per_s),
      line = 100, line_title = "sum of the limits", rows = function()
        local rows = {}
        for _, name in ipairs{ "ghl", "ghl-luajit", "node-sdk" } do
          local _, pct = span_goodput("W5", name, W5.limit_per_s)
          rows[#rows + 1] = { name, pct }
        end
        return rows
      end },
    { title = ("W6: %d processes, goodput %% of %.0f/s"):format(W6.procs, W6.limit_per_s), line = 100,
      line_title = "limit", small = true, rows = function()
        local rows = {}
        for _, name in ipairs{ "ghl", "ghl-luajit" } do
          for _, store in ipairs{ "redis", "none" } do
            local _, pct = span_goodput("W6-" .. store, name, W6.limit_per_s)
            rows[#rows + 1] = { ("%s\\n%s"):format(name == "ghl-luajit" and "luajit" or name, store), pct }
          end
        end
        return rows
      end },
    { title = "W5 and W6: answers 429", small = true, font = 8, rows = function()
        local rows = {}
        for _, name in ipairs{ "ghl", "ghl-luajit", "node-sdk" } do
          rows[#rows + 1] = { ("W5\\n%s"):format(name == "ghl-luajit" and "luajit" or name), med("W5", name, "srv_rejected") }
        end
        for _, name in ipairs{ "ghl", "ghl-luajit" } do
          for _, store in ipairs{ "redis", "none" } do
            rows[#rows + 1] = { ("W6 %s\\n%s"):format(store, name == "ghl-luajit" and "luajit" or name),
                                med("W6-" .. store, name, "srv_rejected") }
          end
        end
        return rows
      end },
    { title = ("W7: %d upserts, goodput %% of %.0f/s"):format(N.w7, W7.limit_per_s), line = 100,
      line_title = "limit", small = true, rows = function()
        local rows = {}
        for _, name in ipairs{ "ghl", "ghl-luajit" } do
          for _, run in ipairs{ "batch", "job" } do
            local _, pct = span_goodput("W7-" .. run, name, W7.limit_per_s)
            rows[#rows + 1] = { ("%s\\n%s"):format(name == "ghl-luajit" and "luajit" or name, run), pct }
          end
        end
        return rows
      end },
    { title = "W7: CPU per row (µs): batch, job, its journal", small = true, rows = function()
        local rows = {}
        for _, name in ipairs{ "ghl", "ghl-luajit" } do
          local c = w7_cost(name)
          local short = name == "ghl-luajit" and "luajit" or name
          rows[#rows + 1] = { short .. "\\nbatch", c and c.batch_cpu }
          rows[#rows + 1] = { short .. "\\njob", c and c.job_cpu }
          rows[#rows + 1] = { short .. "\\njournal", c and c.put_cpu }
        end
        return rows
      end },
  }
  local data, tops = {}, {}
  for i, p in ipairs(panels) do
    local rows, top = {}, p.line or 0
    local function row(label, v)
      if v then
        rows[#rows + 1] = ('"%s" %.6f'):format(label, v)
        if v > top then top = v end
      end
    end
    if p.rows then
      for _, rw in ipairs(p.rows()) do row(rw[1], rw[2]) end
    end
    for _, name in ipairs(p.rows and {} or names) do
      local v
      if p.field == "goodput_pct" then
        local xs = {}
        for _, r in ipairs(runs) do
          if r.key == "W4" and r.contender == name and r.ok and r.loop_ms and r.loop_ms > 0 and not r.failed_run then
            xs[#xs + 1] = 100 * r.ok / (r.loop_ms / 1000) / LIMIT_PER_S
          end
        end
        v = median(xs)
      else
        v = med(p.key, name, p.field)
      end
      if p.small then
        local short = name == "ghl-luajit" and "luajit" or name
        row(("%s\\n%s"):format(short, N.w2), v)
        if name == "ghl" or name == "ghl-luajit" then row(("%s\\n%s"):format(short, N.w2small), med("W2small", name, "rss_mb")) end
      else
        row(name, v)
      end
    end
    if #rows == 0 then rows[1] = '"none" 0' end
    data[i] = table.concat(rows, "\n")
    tops[i] = top > 0 and top * 1.15 or 1
  end
  local dat = TMP .. "/chart.dat"
  write(dat, table.concat(data, "\n\n\n") .. "\n")
  local g = {
    "set terminal pngcairo size 1500,1800 font 'DejaVu Sans,10'",
    ("set output '%s'"):format(path),
    ("set multiplot layout 4,3 title 'ghl benchmark%s: medians of %d repetition(s) (W4: %d, W5: %d, W6: %d, W7: %d), %s'")
      :format(SMOKE and " (smoke)" or "", REPS, REPS_W4, REPS_W5, REPS_W6, REPS_W7, os.date("!%Y-%m-%d")),
    "set style fill solid 0.8 border -1",
    "set boxwidth 0.6",
    "set grid ytics",
    "set xtics nomirror",
    "set offsets 0.5, 0.5, 0, 0",
  }
  for i, p in ipairs(panels) do
    g[#g + 1] = ("set title '%s'"):format(p.title)
    g[#g + 1] = ("set yrange [0:%g]"):format(tops[i])
    g[#g + 1] = ("set xtics font ',%d'"):format(p.font or (p.small and 9 or 10))
    g[#g + 1] = "set bmargin 3.5"
    local plot = ("plot '%s' index %d using 0:2:xtic(1) with boxes lc rgb '#4477aa' notitle, "
      .. "'' index %d using 0:2:(sprintf('%%.4g', $2)) with labels offset 0,0.8 notitle"):format(dat, i - 1, i - 1)
    if p.line then
      plot = plot .. (", %g with lines lw 2 dt 2 lc rgb '#cc3311' title '%s'"):format(p.line, p.line_title)
      g[#g + 1] = "set key top left"
    else
      g[#g + 1] = "unset key"
    end
    g[#g + 1] = plot
  end
  g[#g + 1] = "unset multiplot"
  local gp = TMP .. "/chart.gp"
  write(gp, table.concat(g, "\n") .. "\n")
  local ok = sh("gnuplot " .. q(gp) .. " 2>" .. q(TMP .. "/gnuplot.err"))
  if ok then say("chart: %s", path) else say("bench: gnuplot failed:\n%s", read(TMP .. "/gnuplot.err") or "") end
end

------------------------------------------------------------------------------

local function main()
  assert(sh("mkdir -p " .. q(TMP)))
  local sdk_version = check_prerequisites()
  snapshot()
  W6.has_store = (read(SNAPSHOT .. "/lua/ghl/options.lua") or ""):find("pacing_store", 1, true) ~= nil
  say("ghl benchmark%s: W1 %d, W2 %d (and %d), W3 %d at concurrency %d, W4 %d at %d/s, W5 %d locations × %d "
    .. "at %d per %d ms each, W6 %d processes × %d at %d per %d ms, W7 %d upserts at %d per %d ms; "
    .. "%d repetition(s), W4 %d, W5 %d, W6 %d, W7 %d",
    SMOKE and " (smoke)" or "", N.w1, N.w2, N.w2small, N.w3, CONCURRENCY, N.w4, LIMIT_PER_S, N.w5_locations,
    N.w5_per, W5.max, W5.interval_ms, W6.procs, N.w6_per, W6.max, W6.interval_ms, N.w7, W7.max, W7.interval_ms,
    REPS, REPS_W4, REPS_W5, REPS_W6, REPS_W7)
  local srv = start_server()
  say("server: fast %s, slow %s, rate-limited %s, per location %s", srv.urls.fast, srv.urls.slow,
    srv.urls.limited, srv.urls.agency)
  local ok, err = xpcall(run_all, debug.traceback, srv)
  local log = srv:log()
  srv:stop()
  if not ok then
    io.stderr:write("bench: ", tostring(err), "\n")
    if log ~= "" then io.stderr:write("server log:\n", log, "\n") end
    os.exit(2)
  end
  if log:find("%[error%]") or log:find("%[alert%]") then
    failures[#failures + 1] = "the benchmark server logged errors:\n    " .. log:sub(1, 800):gsub("\n", "\n    ")
  end
  local md = report(sdk_version, os.time() - T_START)
  write(OUT, md)
  chart(CHART)
  say("\n%s", md)
  say("results: %s", OUT)
  say("total time: %d s", os.time() - T_START)
  if #failures > 0 then
    io.stderr:write("bench: FAILED:\n  ", table.concat(failures, "\n  "), "\n")
    os.exit(1)
  end
end

main()
