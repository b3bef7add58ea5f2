-- Handlers of the test nginx application: each runs ghl inside nginx and
-- answers JSON for spec/nginx_spec.lua.
local cjson = require "cjson"
local ghl = require "ghl"

local M = {}
local cfg

function M.configure(c) cfg = c end

local C1 = "SeedC000000000000001"

local function client(extra)
  local o = { token = cfg.token, location_id = cfg.location_id, base_url = cfg.url, retry_base_ms = 5,
              retry_max_delay_ms = 20 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return ghl.new(o)
end

local function count(it)
  local n = 0
  for _ in it do n = n + 1 end
  return n
end

local handlers = {}

-- create, read, update, delete and upsert a contact
function handlers.crud()
  local c = client()
  local steps = {}
  local contact = assert(c.contacts:create{ firstName = "Ngx", email = "ngx" .. ngx.now() * 1000 .. "@example.com" })
  steps[#steps + 1] = "created"
  assert(c.contacts:get(contact.id).id == contact.id)
  steps[#steps + 1] = "read"
  assert(c.contacts:update(contact.id, { lastName = "Worker" }).lastName == "Worker")
  steps[#steps + 1] = "updated"
  assert(c.contacts:upsert{ email = contact.email, firstName = "Up" })
  steps[#steps + 1] = "upserted"
  assert(c.contacts:delete(contact.id))
  steps[#steps + 1] = "deleted"
  local gone, err = c.contacts:get(contact.id)
  assert(gone == nil and err.status == 404)
  steps[#steps + 1] = "404"
  return { steps = steps, transport = getmetatable(c._transport) == require("ghl.transport.ngx").T and "ngx" or "?" }
end

-- every paging style and a method of each resource
function handlers.resources()
  local c = client{ company_id = "CompMock000000000001" }
  local now = os.time()
  local slots = assert(c.calendars:free_slots("CalMock0000000000001", { startDate = now, endDate = now + 40 * 86400 }))
  local days = 0
  for _ in pairs(slots) do days = days + 1 end
  return {
    contacts = count(c.contacts:each{ pageLimit = 100, max_items = 250 }),
    search_total = select(2, assert(c.contacts:search{ pageLimit = 5 })).body.total,
    opportunities = count(c.opportunities:each{ limit = 100 }),
    messages = count(c.conversations:messages("ConvMock000000000001", { limit = 50 })),
    conversations = count(c.conversations:each{ limit = 2 }),
    export = count(c.conversations:export{ limit = 100, max_items = 150 }),
    locations = count(c.locations:each{ companyId = "CompMock000000000001", limit = 10 }),
    users = count(c.users:each{ limit = 10 }),
    notes = count(c.calendars:each_appointment_note("SeedE000000000000001", { limit = 10 })),
    legacy = count(c:each_of("contacts.get-contacts", { limit = 100 })),
    workflows = #assert(c.workflows:list()),
    pipelines = #assert(c.opportunities:pipelines()),
    free_days = days,
    sent = assert(c.conversations:send{ type = "SMS", contactId = C1, message = "from nginx" }).messageId ~= nil,
  }
end

-- the connection serial the local server saw, for several calls
function handlers.keepalive()
  local c = client()
  local conns = {}
  for _ = 1, 5 do
    local _, resp = assert(c.contacts:get(C1))
    conns[#conns + 1] = resp.headers["x-mock-connection"]
  end
  return { connections = conns }
end

-- a GHL call that takes 2 s (the server sleeps), and one that does not
function handlers.slow()
  local c = client()
  assert(c:request("GET", "/contacts/" .. C1, { headers = { ["X-Mock-Fault"] = "delay=2000" } }))
  return { ok = true }
end

function handlers.fast()
  assert(client().contacts:get(C1))
  return { ok = true }
end

-- five 500 ms calls at once in light threads
function handlers.batch()
  local c = client()
  local calls = {}
  for i = 1, 5 do
    calls[i] = { "GET", "/contacts/{contactId}", { path = { contactId = ("SeedC%015d"):format(i) },
                                                     headers = { ["X-Mock-Fault"] = "delay=500" } } }
  end
  calls[6] = { op = "contacts.get-contact", params = { contactId = "missing" } }
  local t0 = ngx.now()
  ngx.update_time()
  local results = c:batch(calls, { concurrency = 6 })
  ngx.update_time()
  local ids = {}
  for i = 1, 5 do ids[i] = results[i][1].contact.id end
  return { ids = ids, elapsed_ms = (ngx.now() - t0) * 1000, missing_status = results[6][2].status }
end

-- a call from a timer (cosockets work there); the result lands in a shared dict
function handlers.timer()
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local r = handlers.crud()
    ngx.shared.test_state:set("timer", cjson.encode(r))
  end)
  return { scheduled = ok and true or false, err = err }
end

function handlers.timer_result()
  return { result = ngx.shared.test_state:get("timer") }
end

function handlers.phase_error()
  return { message = ngx.shared.test_state:get("phase_error") }
end

-- TLS: trusted CA (lua_ssl_trusted_certificate), and a server it does not trust
function handlers.tls()
  local c = client{ base_url = cfg.tls_url }
  local contact, err = c.contacts:get(C1)
  -- again and again: a handshake that fails verification at once (loopback)
  -- used to raise lua-resty-core's assertion about half of the time
  local u = client{ base_url = cfg.untrusted_tls_url, max_retries = 0 }
  local kinds, bad, berr = {}, nil, nil
  for i = 1, 20 do
    bad, berr = u.contacts:get(C1)
    kinds[i] = bad and "accepted!" or berr.kind
  end
  return { trusted = contact and contact.id or tostring(err), untrusted = bad and "accepted!" or berr.message,
           untrusted_kind = berr and berr.kind, untrusted_kinds = kinds }
end

-- Pacing through the shared dict while another worker holds its lock (and
-- never lets go): the call goes on with this worker's own pacer after the
-- wait, and the other worker's lock is left alone.
function handlers.pace_locked()
  local c = client{ pacing_dict = "ghl_pacing", max_retries = 0 }
  local dict, lock = ngx.shared.ghl_pacing, c._pacer.lock
  dict:set(lock, "another worker", 30)
  local t0 = ngx.now()
  local contact, err = c.contacts:get(C1)
  local still = dict:get(lock)
  dict:delete(lock)
  return { ok = contact ~= nil, err = err and tostring(err), waited_s = ngx.now() - t0, lock_left = still }
end

-- A decision that raises under the shared dict's lock releases it.
function handlers.pace_raise()
  local c = client{ pacing_dict = "ghl_pacing", max_retries = 0 }
  local ok, err = pcall(c._pacer.acquire, c._pacer, "not a time")
  return { raised = not ok, message = tostring(err), lock_left = ngx.shared.ghl_pacing:get(c._pacer.lock) }
end

-- OAuth with tokens in a lua_shared_dict (one refresh across all workers);
-- ?short_lease=1: a refresh lock lease of 1.5 s (token requests of 1 s)
local function app()
  local short = ngx.var.arg_short_lease == "1"
  return ghl.oauth{ client_id = cfg.client_id, client_secret = cfg.client_secret, base_url = cfg.url,
                    store = ghl.store.shm("ghl_tokens"), refresh_skew_ms = 0,
                    timeout_ms = short and 1000 or nil, lock_ttl_ms = short and 1500 or nil }
end

function handlers.oauth_setup()
  local a = app()
  local s = assert(a:exchange(ngx.var.arg_code))
  -- expire the stored record: the next calls must refresh
  local key = a:_key("Location", s.location_id)
  local rec = cjson.decode(ngx.shared.ghl_tokens:get(key))
  rec.expires_at = 0
  ngx.shared.ghl_tokens:set(key, cjson.encode(rec))
  return { location_id = s.location_id }
end

-- An agency install (?code= of a Company): its tokens stored, and no
-- location token yet (an earlier test's record of the location forgotten)
function handlers.oauth_agency_setup()
  local a = app()
  local s = assert(a:exchange(ngx.var.arg_code, { user_type = "Company" }))
  a:forget(cfg.location_id)
  return { company_id = s.company_id }
end

-- The stored location token marked expired (?id=): the next call renews it
function handlers.oauth_expire_location()
  local a = app()
  local key = a:_key("Location", ngx.var.arg_id)
  local rec = cjson.decode(ngx.shared.ghl_tokens:get(key))
  rec.expires_at = 0
  ngx.shared.ghl_tokens:set(key, cjson.encode(rec))
  return { ok = true, has_refresh_token = rec.refresh_token ~= nil, minted_from = rec.minted_from }
end

-- A location call through an agency client (?company=): the location token
-- minted from the agency token, or renewed
function handlers.oauth_agency_call()
  local c = ghl.new{ oauth = app(), company_id = ngx.var.arg_company, location_id = cfg.location_id, base_url = cfg.url,
                     pacing = false }
  local contact, err = c.contacts:get(C1)
  return { ok = contact ~= nil, err = err and tostring(err), pid = ngx.worker.pid() }
end

function handlers.oauth_call()
  local c = ghl.new{ oauth = app(), location_id = cfg.location_id, base_url = cfg.url, pacing = false }
  local contact, err = c.contacts:get(C1)
  return { ok = contact ~= nil, err = err and tostring(err), pid = ngx.worker.pid() }
end

-- An OAuth client's batch in light threads: 8 slow calls at concurrency 8
-- (the stored token expired: the batch renews it once for all of them)
function handlers.oauth_batch()
  local c = ghl.new{ oauth = app(), location_id = cfg.location_id, base_url = cfg.url }
  local calls = {}
  for i = 1, 8 do
    calls[i] = { "GET", "/contacts/{contactId}", { path = { contactId = ("SeedC%015d"):format(i) },
                                                    headers = { ["X-Mock-Fault"] = "delay=500" } } }
  end
  ngx.update_time()
  local t0 = ngx.now()
  local results = c:batch(calls, { concurrency = 8 })
  ngx.update_time()
  local ok = 0
  for i = 1, 8 do
    if results[i][1] and results[i][1].contact.id == ("SeedC%015d"):format(i) then ok = ok + 1 end
  end
  return { ok = ok, elapsed_ms = (ngx.now() - t0) * 1000, err = results[1][2] and tostring(results[1][2]) }
end

-- ghl.webhook.receive with deliveries claimed in a lua_shared_dict shared by
-- the workers: a handler that takes a while and counts its runs.
-- POST, ?keys=<PEM file>
local webhook_keys = {}
function handlers.webhook_receive()
  ngx.req.read_body()
  local path = ngx.var.arg_keys
  if not webhook_keys[path] then webhook_keys[path] = assert(ghl.webhook.read_keys(path)) end
  local status, reply = ghl.webhook.receive(ngx.req.get_body_data() or "", ngx.req.get_headers(), function()
    ngx.shared.test_state:incr("webhook_handled", 1, 0)
    ngx.sleep(0.3) -- the other workers get the same delivery meanwhile
    return true
  end, { keys = webhook_keys[path], store = ghl.store.shm("ghl_webhooks") })
  return { status = status, reply = reply, pid = ngx.worker.pid() }
end

function handlers.webhook_count()
  return { handled = ngx.shared.test_state:get("webhook_handled") or 0 }
end

-- paced calls sharing one budget across workers through ghl_pacing
function handlers.pace()
  local c = client{ pacing_dict = "ghl_pacing", max_retries = 0 }
  local contact, err = c.contacts:get(C1)
  return { ok = contact ~= nil, kind = err and err.kind, status = err and err.status, pid = ngx.worker.pid() }
end

-- the same through pacing_store = ghl.store.shm(dict), which pacing_dict is short for
function handlers.pace_store()
  local c = client{ pacing_store = ghl.store.shm("ghl_pacing"), max_retries = 0 }
  local contact, err = c.contacts:get(C1)
  return { ok = contact ~= nil, kind = err and err.kind, status = err and err.status, pid = ngx.worker.pid() }
end

-- and through a Redis pacing_store (?port=): cosockets, nginx's connection pool
function handlers.pace_redis()
  local args = ngx.req.get_uri_args()
  local c = client{ pacing_store = ghl.store.redis{ port = tonumber(args.port), prefix = "ngx:" }, max_retries = 0 }
  local contact, err = c.contacts:get(C1)
  return { ok = contact ~= nil, kind = err and err.kind, status = err and err.status, pid = ngx.worker.pid() }
end

-- One call of the fault matrix (spec/fault_matrix_spec.lua) through the
-- nginx transport. Query: method, path (concrete), body (JSON), timeout_ms,
-- base (another base URL: a closed port), warm_method, warm_path, warm_body
-- (a call made first, so the faulted one may go out on a kept-alive
-- connection). Idle GET/PUT/DELETE connections are kept 1 ms only, so a
-- call without a warm-up starts on a fresh connection whatever ran before
-- (the pooled one dies once the worker is idle; a warm-up is reused at once).
-- No pacing, as in the spec's own clients. Answers what happened: ok, kind, status, attempts, sent, message,
-- retry_after_ms, delays (of on_retry, ms), elapsed_ms.
function handlers.fault_call()
  local args = ngx.req.get_uri_args()
  local timeout = tonumber(args.timeout_ms) or 400
  local function decode(s) return s and s ~= "" and cjson.decode(s) or nil end
  local delays = {}
  local c = client{
    base_url = args.base or cfg.url, max_retries = 2, timeout_ms = timeout, max_body_bytes = 64 * 1024, pacing = false,
    transport = require("ghl.transport.ngx").new{ timeout_ms = timeout, max_body_bytes = 64 * 1024,
                                                  keepalive_timeout_ms = 1 },
    on_retry = function(info) delays[#delays + 1] = info.delay_ms end,
  }
  if args.warm_method then
    local ok, err = c:request(args.warm_method, args.warm_path, { body = decode(args.warm_body) })
    if not ok then return { warm_up_failed = tostring(err) } end
  end
  ngx.update_time()
  local t0 = ngx.now()
  local v, x = c:request(args.method, args.path, { body = decode(args.body) })
  ngx.update_time()
  c:close()
  local out = { ok = v ~= nil, attempts = x.attempts, status = x.status, delays = delays,
                elapsed_ms = (ngx.now() - t0) * 1000 }
  if not v then
    out.kind, out.sent, out.message, out.retry_after_ms = x.kind, x.sent, x.message, x.retry_after_ms
  end
  return out
end

local function run(name)
  local h = handlers[name]
  if not h then return 404, { error = "no handler " .. tostring(name) } end
  local ok, res = pcall(h)
  if not ok then return 500, { error = tostring(res) } end
  return 200, res
end

function M.content()
  local status, body = run(ngx.var.uri:match("^/t/(.+)$"))
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(body))
end

function M.access()
  local status, body = run(ngx.var.uri:match("^/a/(.+)$"))
  if status ~= 200 then
    ngx.status = status
    ngx.say(cjson.encode(body))
    return ngx.exit(status)
  end
  ngx.ctx.result = cjson.encode(body)
end

-- cosockets do not exist here: ghl must say so, and suggest ngx.timer.at
function M.header_filter()
  local ok, err = pcall(function() return client().contacts:get(C1) end)
  ngx.shared.test_state:set("phase_error", ok and "no error" or tostring(err))
end

return M
