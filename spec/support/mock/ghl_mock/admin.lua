-- Test-only endpoints of the local GHL server, under /_mock/ (no auth).
--   POST /_mock/reset              back to the seed (and an empty request log)
--   POST /_mock/seed?contacts=N    N more seeded contacts (&locationId=, default location A)
--   GET  /_mock/state              record counts per collection
--   GET  /_mock/requests           the requests received since the last reset
--   GET  /_mock/contacts           {count} of contacts
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local seed = require "ghl_mock.seed"

local M = {}

local MAX_SEED = 200000

function M.handle(method, path)
  if path == "/_mock/reset" and method == "POST" then
    state.reset()
    return http.reply(200, { ok = true })
  elseif path == "/_mock/seed" and method == "POST" then
    local args = ngx.req.get_uri_args()
    local n = tonumber(args.contacts)
    if not n or n < 0 or n ~= math.floor(n) or n > MAX_SEED then
      return http.error(400, ("contacts must be a whole number from 0 to %d"):format(MAX_SEED), "Bad Request")
    end
    local location = type(args.locationId) == "string" and args.locationId or seed.ids.location
    ngx.update_time()
    local t = ngx.now()
    seed.add_contacts(state, n, location)
    ngx.update_time()
    return http.reply(200, { ok = true, added = n, contacts = #state.index("contacts", location),
                             ms = math.floor((ngx.now() - t) * 1000) })
  elseif path == "/_mock/state" and method == "GET" then
    return http.reply(200, state.counts())
  elseif path == "/_mock/requests" and method == "GET" then
    local out = {}
    for i, r in ipairs(state.requests()) do
      out[i] = { method = r.method, uri = r.uri, path = r.path, headers = r.headers,
                 body = r.raw_body, connection = r.connection }
    end
    return http.reply(200, { requests = #out > 0 and out or http.EMPTY_ARRAY })
  elseif path == "/_mock/contacts" and method == "GET" then
    local n = 0
    for _ in pairs(state.contacts) do n = n + 1 end
    return http.reply(200, { count = n })
  end
  return http.error(404, "unknown admin endpoint " .. path, "Not Found")
end

return M
