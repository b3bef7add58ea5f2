-- Handlers of examples/openresty/nginx.conf.
--
-- POST /webhooks/ghl    a GHL webhook (ContactCreate, ContactUpdate, ...), through
--                       ghl.webhook.receive: the contact is looked up and tagged. 401
--                       for a missing or bad signature or a stale event; 200 when done
--                       (and for a redelivery already handled, by any worker); 429 when
--                       the handler failed (GHL rate-limits our calls, GHL is down) or
--                       another worker is on it, so GHL delivers the event again (it
--                       retries on 429 only). GHL_WEBHOOK_LATER=1: answer 200 at once
--                       and tag in a timer (faster, but an event whose tagging then
--                       fails is lost: GHL has its 200).
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

-- the public keys to trust: GHL_WEBHOOK_PUBLIC_KEY (one key, e.g. the test key of
-- `ghl webhook key FILE`) and a file of PEM keys (GHL_WEBHOOK_KEYS), or else GHL's
-- published ones; deliveries are claimed in a lua_shared_dict, so every worker
-- handles each once
local function trusted_keys()
  local keys
  local path = os.getenv("GHL_WEBHOOK_KEYS")
  if path and path ~= "" then keys = assert(ghl.webhook.read_keys(path)) end
  local key = os.getenv("GHL_WEBHOOK_PUBLIC_KEY")
  if key and key ~= "" then
    keys = keys or {}
    keys[#keys + 1] = key
  end
  return keys
end

local receive_opts
local function webhook_opts()
  if not receive_opts then
    receive_opts = {
      keys = trusted_keys(),
      store = ghl.store.shm("ghl_webhooks"),
      run_later = os.getenv("GHL_WEBHOOK_LATER") == "1",
      on_error = function(info) ngx.log(ngx.ERR, "webhook ", info.stage, " ", info.key, ": ", info.message) end,
    }
  end
  return receive_opts
end

-- tag the contact of a contact event: true when done, nil, err to be delivered again
local function tag_contact(event)
  local id = event.id or event.contactId
  if type(id) ~= "string" then return true end -- the event names no contact: nothing to do
  local c = ghl_client()
  local contact, err = c.contacts:get(id)
  if not contact then
    if err.status == 404 then return true end -- deleted since: nothing to tag
    return nil, err
  end
  for _, t in ipairs(contact.tags or {}) do
    if t == TAG then return true end
  end
  local done, terr = c.contacts:add_tags(id, { TAG })
  if not done then return nil, terr end
  return true
end

local HANDLERS = { ContactCreate = tag_contact, ContactUpdate = tag_contact, ContactTagUpdate = tag_contact,
                   ContactDndUpdate = tag_contact }

function M.webhook()
  if ngx.req.get_method() ~= "POST" then return reply(405, { error = "POST only" }) end
  return reply(ghl.webhook.receive(raw_body() or "", ngx.req.get_headers(), HANDLERS, webhook_opts()))
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
