--- What the ghl command says when something is wrong, in its own terms:
-- "did you mean" suggestions for a mistyped word, the library's messages
-- told the command line's way (environment variables and name=value, not
-- ghl.new options and Lua tables), and hints for a refused token.
--
--   messages.suggest("gett", { "get", "create" })   { "get" }
--   messages.did_you_mean{ "get" }                  "; did you mean 'get'?"
--   messages.translate("contacts:create: ... (or give location_id to ghl.new)")
local M = {}

-- edit distance (Levenshtein) of two strings: the library's, which
-- suggests operation names
local distance = require("ghl.operations").distance
M.distance = distance

-- case, "_" and "-" do not count when words are compared
local function norm(s) return (s:lower():gsub("[_%-]", "")) end

--- The candidates closest to `word` (at most `max`, 3 by default): those at
-- the smallest edit distance when it is small for the word's length (1 for
-- up to 7 letters, then a quarter of them), else those that start with it
-- (or that it starts with). Case, "_" and "-" do not count. `key(c)` gives
-- the text to compare of a candidate (the candidate itself by default).
function M.suggest(word, candidates, max, key)
  max = max or 3
  local w = norm(word)
  if w == "" then return {} end
  local limit = math.max(1, math.floor(#w / 4))
  local best, near = math.huge, {}
  for _, c in ipairs(candidates) do
    local d = distance(w, norm(key and key(c) or c))
    if d <= limit then
      if d < best then best, near = d, { c } elseif d == best then near[#near + 1] = c end
    end
  end
  if #near == 0 then
    for _, c in ipairs(candidates) do
      local n = norm(key and key(c) or c)
      if #w >= 3 and (n:sub(1, #w) == w or w:sub(1, #n) == n) then near[#near + 1] = c end
    end
  end
  table.sort(near)
  local out = {}
  for i = 1, math.min(max, #near) do out[i] = near[i] end
  return out
end

--- "; did you mean 'a'?", "; did you mean 'a' or 'b'?" or "" (no candidate).
function M.did_you_mean(list)
  if #list == 0 then return "" end
  local quoted = {}
  for i, s in ipairs(list) do quoted[i] = "'" .. s .. "'" end
  if #quoted == 1 then return "; did you mean " .. quoted[1] .. "?" end
  return "; did you mean " .. table.concat(quoted, ", ", 1, #quoted - 1) .. " or " .. quoted[#quoted] .. "?"
end

-- options of ghl.new and ghl.oauth -> what sets them on the command line
local SETTING = {
  token = "GHL_TOKEN", location_id = "GHL_LOCATION_ID", company_id = "GHL_COMPANY_ID", base_url = "GHL_BASE_URL",
  client_id = "GHL_CLIENT_ID", client_secret = "GHL_CLIENT_SECRET", redirect_uri = "GHL_REDIRECT_URI",
  store = "GHL_TOKEN_STORE (or --store)",
}

local function setting(name)
  return SETTING[name] or ("'" .. name .. "'")
end

-- The library's words -> the command line's, in order (plain Lua patterns).
local RULES = {
  -- "contacts:create: " (resource:method) -> "contacts create: "
  { "^(%l+):([%w_]+): ", "%1 %2: " },
  { "^each_of(:?) ", "call --each%1 " },
  -- operations.complete: a required parameter the client would fill in
  { "needs the (%a+) parameter '([^']+)' %(or give location_id to ghl%.new%)",
    "needs %2 (%1): set GHL_LOCATION_ID, or give %2=ID" },
  { "needs the (%a+) parameter '([^']+)' %(or give company_id to ghl%.new%)",
    "needs %2 (%1): set GHL_COMPANY_ID, or give %2=ID" },
  { "needs the (%a+) parameter '([^']+)'", "needs %2 (%1): give %2=..." },
  -- operations: a name the spec does not list
  { " %(a field the spec does not list: wrap the table in ghl%.unchecked{%.%.%.}%)", "" },
  -- tokens / oauth: which location or agency
  { "pass locationId, or give location_id to ghl%.new", "give locationId=ID, or set GHL_LOCATION_ID" },
  { "give location_id to ghl%.new", "set GHL_LOCATION_ID" },
  { "give company_id %(an agency install%) to ghl%.new", "set GHL_COMPANY_ID (an agency that ran `ghl login`)" },
  { "give company_id to ghl%.new", "set GHL_COMPANY_ID" },
  { "the agency token of company_id ", "the agency token of GHL_COMPANY_ID " },
  { "make the client with company_id from an agency install %b()",
    "set GHL_COMPANY_ID to an agency whose OAuth session `ghl login` stored" },
  { "run the OAuth flow %(exchange%) first", "run `ghl login` first" },
  -- options of the client
  { "ghl%.new: option '([%w_]+)'", function(name) return setting(name) end },
  { "^option '([%w_]+)'", function(name) return setting(name) end },
  { "ghl%.oauth: option '([%w_]+)'", function(name) return setting(name) end },
  { "ghl%.new: an OAuth client needs location_id or company_id",
    "an OAuth session needs GHL_LOCATION_ID or GHL_COMPANY_ID" },
  -- resource arguments
  { "fields%.([%w_]+) is required", "%1=... is required" },
  { "([%w_]+) must be a non%-empty string, got string \"\"", "%1 must not be empty" },
  { "use client:call for one page", "use `ghl call` for one page" },
  { "use client:call", "use `ghl call`" },
}

--- A library message in the command line's terms.
function M.translate(msg)
  msg = tostring(msg)
  for _, r in ipairs(RULES) do msg = msg:gsub(r[1], r[2]) end
  return msg
end

local DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"

--- The lines (without "ghl: ") that follow a refused token: what to
-- check, never the token. `err`: the error; `getenv` reads the environment.
function M.auth_hints(err, getenv)
  local status = type(err) == "table" and err.status
  if status ~= 401 and status ~= 403 then return {} end
  local function env(name)
    local v = getenv(name)
    if v == "" then return nil end
    return v
  end
  local base = env("GHL_BASE_URL")
  local out = {}
  if status == 401 then
    if env("GHL_TOKEN") then
      out[#out + 1] = "GHL refused the token: check GHL_TOKEN (a Private Integration Token of the location, "
        .. "or an OAuth access token that has not expired)"
    else
      out[#out + 1] = "GHL refused the stored OAuth token: run `ghl login` again"
    end
    if base and base:gsub("/+$", "") ~= DEFAULT_BASE_URL then
      out[#out + 1] = ("GHL_BASE_URL is %s: a token of GHL does not work on another server, nor one of the "
        .. "local server (ghl mock) on GHL; unset GHL_BASE_URL to talk to GHL"):format(base)
    else
      out[#out + 1] = "a token of the local server (ghl mock) works only there: set GHL_BASE_URL to its URL"
    end
  else
    out[#out + 1] = "the token was refused for this request: check that GHL_LOCATION_ID"
      .. (env("GHL_COMPANY_ID") and " (or GHL_COMPANY_ID)" or "")
      .. " is the token's own and that the token has the operation's scopes (`ghl ops <operation>` lists them)"
  end
  return out
end

return M
