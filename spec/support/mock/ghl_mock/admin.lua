-- Test-only endpoints of the local GHL server, under /_mock/ (no auth).
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"

local M = {}

function M.handle(method, path)
  if path == "/_mock/reset" and method == "POST" then
    state.reset()
    return http.reply(200, { ok = true })
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
