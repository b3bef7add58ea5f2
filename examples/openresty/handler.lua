-- Handlers of examples/openresty/nginx.conf.
--
-- POST /webhooks/ghl    a GHL webhook (ContactCreate, ContactUpdate, ...): verify its
--                       signature, then look the contact up and tag it. 401 for a
--                       missing or bad signature, a stale or malformed event; 200 when
--                       done (and for a redelivery already handled); 429 when GHL
--                       rate-limits our calls, so GHL delivers the event again (it
--                       retries on 429 only).
-- GET /opportunities    ?status=open&pipeline_id=...&limit=20: one page, as JSON.
local cjson = require "cjson"
local ghl = require "ghl"

local M = {}

local TAG = "seen-by-webhook"

-- one client per worker: it holds no socket (cosockets belong to a request)
local client
local function ghl_client()
  if not client then
    client = ghl.new{
      token = os.getenv("GHL_TOKEN"),
      location_id = os.getenv("GHL_LOCATION_ID"),
      base_url = os.getenv("GHL_BASE_URL"),
      pacing_dict = "ghl_pacing",
      max_retries = 2,
    }
  end
  return client
end

local function reply(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(body))
  return ngx.exit(status)
end

-- the raw body, also when nginx spilled it to a temporary file
local function raw_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local path = ngx.req.get_body_file()
  if not path then return nil end
  local f = io.open(path, "rb")
  if not f then return nil end
  data = f:read("*a")
  f:close()
  return data
end

local CONTACT_EVENTS = { ContactCreate = true, ContactUpdate = true, ContactTagUpdate = true,
                         ContactDndUpdate = true }

-- the public keys to trust: a file of PEM keys, or GHL's published ones
local verify_opts
local function webhook_opts()
  if not verify_opts then
    local path = os.getenv("GHL_WEBHOOK_KEYS")
    local keys = path and assert(ghl.webhook.read_keys(path))
    verify_opts = { keys = keys, seen = ghl.webhook.seen_in(ghl.store.shm("ghl_webhooks")) }
  end
  return verify_opts
end

function M.webhook()
  if ngx.req.get_method() ~= "POST" then return reply(405, { error = "POST only" }) end
  local event, verr = ghl.webhook.verify(raw_body() or "", ngx.req.get_headers(), webhook_opts())
  if not event then
    if verr.reason == "duplicate" then return reply(200, { duplicate = true }) end
    return reply(401, { error = verr.reason, message = verr.message })
  end
  if not CONTACT_EVENTS[event.type] then
    return reply(200, { ignored = event.type })
  end
  local id = event.id or event.contactId
  if type(id) ~= "string" then return reply(400, { error = "the event names no contact" }) end

  local c = ghl_client()
  local contact, err = c.contacts:get(id)
  local done = contact
  if contact then
    local has = false
    for _, t in ipairs(contact.tags or {}) do has = has or t == TAG end
    if not has then done, err = c.contacts:add_tags(id, { TAG }) end
  end
  if not done then
    if err.kind == "rate_limited" then
      return reply(429, { error = "rate limited by GHL; deliver again later" })
    end
    ngx.log(ngx.ERR, "webhook ", event.type, " ", id, ": ", tostring(err))
    return reply(err.status == 404 and 200 or 502, { error = err.message })
  end
  return reply(200, { tagged = id })
end

function M.opportunities()
  local args = ngx.req.get_uri_args()
  local page, err = ghl_client().opportunities:search{
    status = args.status, pipeline_id = args.pipeline_id, limit = tonumber(args.limit) or 20,
  }
  if not page then return reply(err.kind == "rate_limited" and 429 or 502, { error = err.message }) end
  local out = {}
  for i, o in ipairs(page) do
    out[i] = { id = o.id, name = o.name, status = o.status, monetaryValue = o.monetaryValue,
               pipelineStageId = o.pipelineStageId }
  end
  return reply(200, { opportunities = out })
end

return M
