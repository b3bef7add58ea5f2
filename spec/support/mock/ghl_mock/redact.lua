-- Secrets kept out of the request log (/_mock/requests), which specs print
-- when they fail: on /oauth/ paths the values of client_secret,
-- refresh_token and code are logged as "(present)", in a form body, a
-- JSON body (a client that sends the wrong type still must not leak) and
-- the query. Handlers read the request itself, never the log.
local cjson = require "cjson.safe"

local M = {}

local SECRET = { client_secret = true, refresh_token = true, code = true,
                 clientSecret = true, refreshToken = true }

local function oauth(path) return path:sub(1, 7) == "/oauth/" end

-- "a=1&client_secret=x" -> "a=1&client_secret=(present)", the rest byte for byte
local function form(s)
  local out = {}
  for pair in (s .. "&"):gmatch("([^&]*)&") do
    local key = pair:match("^[^=]*")
    if pair:find("=", 1, true) and SECRET[ngx.unescape_uri((key:gsub("%+", " ")))] then
      pair = key .. "=(present)"
    end
    out[#out + 1] = pair
  end
  return table.concat(out, "&")
end

--- The body as the log shows it.
function M.body(path, raw)
  if not raw or raw == "" or not oauth(path) then return raw end
  local json = cjson.decode(raw)
  if type(json) ~= "table" then return form(raw) end
  for k in pairs(json) do
    if SECRET[k] then json[k] = "(present)" end
  end
  return cjson.encode(json) or "(not logged)"
end

--- The request URI as the log shows it.
function M.uri(path, uri)
  local query = oauth(path) and uri:match("%?(.*)$")
  if not query then return uri end
  return uri:sub(1, #uri - #query) .. form(query)
end

return M
