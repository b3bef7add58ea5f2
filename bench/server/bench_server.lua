-- The benchmark server's handlers (nginx + its Lua module, one worker).
--
-- GHL's paths and shapes, built so that the server is never the bottleneck:
-- the contact body is precomputed once around its id, and a search page is a
-- list of precomputed pieces handed to ngx.print as is (no JSON encoding per
-- request; the small search request body is decoded with cjson).
--
--   GET  /contacts/{contactId}   200 {"contact":{...}} of about 1.1 KB
--   POST /contacts/search        {"contacts":[...],"total":N} over N virtual contacts,
--                                newest first, each with searchAfter [dateAdded ms, id]
--   every request needs "Authorization: Bearer <anything>" (401) and a Version header (400)
--
-- Variants (one server block each, see nginx.conf.in): "fast"; "slow" (the same after
-- ngx.sleep(0.05)); "limited" (fixed window of 1000 ms starting at the first request after
-- the previous one ended, 50 per window, GHL's five X-RateLimit-* headers on every answer,
-- 429 {"statusCode":429,"message":"Too many requests"} without Retry-After over the limit).
--
-- Admin (no auth, not counted):
--   POST /_bench/config {"contacts": N}   how many contacts search walks over
--   POST /_bench/reset                    counters and the rate-limit window start again
--   GET  /_bench/stats                    {"requests":,"connections":,"max_inflight":,"rejected":,"errors":,"contacts":}
local cjson = require "cjson.safe"

local M = {}

local LOCATION_ID = "LocBench000000000001"
local BASE_MS = 1735689600000 -- 2025-01-01T00:00:00Z: contact i was added i minutes before
local STEP_MS = 60000
local MAX_WINDOW = 10000 -- page paging reaches only the first 10,000 records (GHL)

-- the contact: GHL's fields, about 1.1 KB; @ID@ and @DATE@ vary per contact
local CONTACT = table.concat{
  '{"id":"@ID@","locationId":"', LOCATION_ID, '",',
  '"contactName":"ada lovelace","firstName":"Ada","lastName":"Lovelace",',
  '"firstNameRaw":"Ada","lastNameRaw":"Lovelace","companyName":"Analytical Engines Ltd",',
  '"email":"ada.lovelace@example.com","emailLowerCase":"ada.lovelace@example.com",',
  '"phone":"+14155550123","dnd":false,',
  '"type":"lead","source":"public api","assignedTo":"UsrBench000000000001",',
  '"address1":"12 St James\'s Square","city":"London","state":"Greater London","country":"GB",',
  '"postalCode":"SW1Y 4JH","website":"https://example.com/ada","timezone":"Europe/London",',
  '"dateOfBirth":"1815-12-10T00:00:00.000Z","dateAdded":"@DATE@","dateUpdated":"@DATE@",',
  '"tags":["vip","newsletter","engine"],',
  '"customFields":[{"id":"CfBench0000000000001","value":"gold"},{"id":"CfBench0000000000002","value":42}],',
  '"additionalEmails":[],"additionalPhones":[],"followers":[],',
  '"attributionSource":{"url":"https://example.com/signup","campaign":"","utmSource":"newsletter",',
  '"utmMedium":"email","sessionSource":"Email","medium":"email","mediumId":null},',
  '"businessId":null,"visitorId":"vis-7f3a9c2e"}',
}

-- a template cut at its @NAME@ markers: literal pieces and the names between them
local function cut(template)
  local lits, names, pos = {}, {}, 1
  while true do
    local s, e, name = template:find("@(%u+)@", pos)
    if not s then break end
    lits[#lits + 1] = template:sub(pos, s - 1)
    names[#names + 1] = name
    pos = e + 1
  end
  lits[#lits + 1] = template:sub(pos)
  return lits, names
end

local GET_LITS, GET_NAMES -- '{"contact":' .. CONTACT .. '}' (one fixed date)
local ITEM_LITS, ITEM_NAMES -- CONTACT with ,"searchAfter":[@MS@,"@ID@"]
local FIXED_DATE = "2024-03-01T10:15:30.000Z"

local function id_of(i) return ("Ct%018d"):format(i) end
local function ms_of(i) return BASE_MS - i * STEP_MS end
local function iso_of(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. ".000Z"
end

local LIMIT = { max = 50, interval_ms = 1000, daily = 200000 }
local BODY_429 = '{"statusCode":429,"message":"Too many requests"}'

local stats, win, contacts_n
-- pages of contacts already built ("start:last" -> the text between [ and ]): every
-- contender walks the same pages, so after the first walk (the warm-up) a page is one
-- ngx.print of a string; bounded, past the bound pages are built every time
local pages, pages_bytes, PAGES_MAX_BYTES = {}, 0, 400 * 1024 * 1024
local function reset()
  stats = { requests = 0, connections = 0, inflight = 0, max_inflight = 0, rejected = 0, errors = 0 }
  win = { start = -math.huge, n = 0, daily = 0 }
end

function M.init()
  local s = '{"contact":' .. CONTACT .. '}'
  s = s:gsub("@DATE@", FIXED_DATE)
  GET_LITS, GET_NAMES = cut(s)
  assert(#GET_NAMES == 1 and GET_NAMES[1] == "ID")
  local probe = GET_LITS[1] .. id_of(1) .. GET_LITS[2]
  assert(cjson.decode(probe), "the contact template is not JSON")
  assert(#probe > 1050 and #probe < 1200, "the contact body should be about 1.1 KB, is " .. #probe)
  ITEM_LITS, ITEM_NAMES = cut(CONTACT:sub(1, -2) .. ',"searchAfter":[@MS@,"@ID@"]}')
  contacts_n = 100000
  reset()
end

-- Content-Type comes from nginx.conf (default_type, charset); the fast and slow variants'
-- X-RateLimit-* headers too (add_header): `headers` are the rate-limited variant's
local function send(status, parts, len, headers)
  ngx.status = status
  local h = ngx.header
  h["Content-Length"] = len
  if headers then
    for k, v in pairs(headers) do h[k] = v end
  end
  ngx.print(parts)
end

local function fail(status, message, headers)
  stats.errors = stats.errors + 1
  local s = ('{"statusCode":%d,"message":"%s"}'):format(status, message)
  return send(status, s, #s, headers)
end

local function get_contact(id, headers)
  if not id:find("^%w+$") then return fail(400, "Invalid contactId", headers) end
  local parts = { GET_LITS[1], id, GET_LITS[2] }
  return send(200, parts, #GET_LITS[1] + #id + #GET_LITS[2], headers)
end

local function search(headers)
  ngx.req.read_body()
  local b = cjson.decode(ngx.req.get_body_data() or "")
  if type(b) ~= "table" then return fail(400, "Unexpected token in JSON", headers) end
  if type(b.locationId) ~= "string" or b.locationId == "" then
    return fail(422, "locationId should not be empty", headers)
  end
  local limit, page, after = tonumber(b.pageLimit), b.page, b.searchAfter
  if not limit or limit < 1 or limit > 500 or limit % 1 ~= 0 then
    return fail(422, "pageLimit must be a whole number from 1 to 500", headers)
  end
  local start
  if after ~= nil and after ~= cjson.null then
    if page ~= nil then return fail(422, "page and searchAfter cannot be used together", headers) end
    if type(after) ~= "table" or #after ~= 2 then
      return fail(422, "searchAfter must be an array of the last contact's sort value and id", headers)
    end
    local i = tonumber(tostring(after[2]):match("^Ct(%d+)$"))
      or (tonumber(after[1]) and math.floor((BASE_MS - tonumber(after[1])) / STEP_MS))
    if not i then return fail(422, "searchAfter must be an array of the last contact's sort value and id", headers) end
    start = math.floor(i) + 1 -- strictly after it
  else
    page = tonumber(page or 1)
    if not page or page < 1 or page % 1 ~= 0 then return fail(422, "page must be a whole number", headers) end
    if page * limit > MAX_WINDOW then
      return fail(422, "page * pageLimit must not exceed 10000: use searchAfter", headers)
    end
    start = (page - 1) * limit + 1
  end
  if start < 1 then start = 1 end
  local last = math.min(contacts_n, start + limit - 1)
  local tail = '],"total":' .. contacts_n .. '}'
  local key = start .. ":" .. last
  local text = pages[key]
  if text then
    return send(200, { '{"contacts":[', text, tail }, 13 + #text + #tail, headers)
  end
  local parts, np = {}, 0
  local lits, names, nl = ITEM_LITS, ITEM_NAMES, #ITEM_NAMES
  for i = start, last do
    if i > start then np = np + 1; parts[np] = "," end
    local ms = ms_of(i)
    local v = { ID = id_of(i), DATE = iso_of(ms), MS = ("%.0f"):format(ms) }
    for k = 1, nl do
      local lit, val = lits[k], v[names[k]]
      parts[np + 1], parts[np + 2] = lit, val
      np = np + 2
    end
    np = np + 1
    parts[np] = lits[nl + 1]
  end
  text = table.concat(parts, "", 1, np)
  if pages_bytes + #text <= PAGES_MAX_BYTES then
    pages[key], pages_bytes = text, pages_bytes + #text
  end
  return send(200, { '{"contacts":[', text, tail }, 13 + #text + #tail, headers)
end

-- the rate-limited variant: the five headers of this answer, or nil when over the limit
local function take()
  ngx.update_time()
  local now = ngx.now() * 1000
  if now - win.start >= LIMIT.interval_ms then win.start, win.n = now, 0 end
  local ok = win.n < LIMIT.max and win.daily < LIMIT.daily
  if ok then win.n, win.daily = win.n + 1, win.daily + 1 end
  return ok, {
    ["X-RateLimit-Limit-Daily"] = LIMIT.daily,
    ["X-RateLimit-Daily-Remaining"] = LIMIT.daily - win.daily,
    ["X-RateLimit-Interval-Milliseconds"] = LIMIT.interval_ms,
    ["X-RateLimit-Max"] = LIMIT.max,
    ["X-RateLimit-Remaining"] = ok and LIMIT.max - win.n or 0,
  }
end

local function admin(method, uri)
  local out
  if uri == "/_bench/config" and method == "POST" then
    ngx.req.read_body()
    local b = cjson.decode(ngx.req.get_body_data() or "")
    local n = type(b) == "table" and tonumber(b.contacts)
    if not n or n < 0 or n % 1 ~= 0 then
      ngx.status = 400
      return ngx.say('{"message":"contacts must be a whole number"}')
    end
    contacts_n = n
    out = { contacts = contacts_n }
  elseif uri == "/_bench/reset" and method == "POST" then
    reset()
    out = { reset = true }
  elseif uri == "/_bench/stats" and method == "GET" then
    out = {}
    for k, v in pairs(stats) do out[k] = v end
    out.contacts = contacts_n
  else
    ngx.status = 404
    return ngx.say('{"message":"unknown admin endpoint"}')
  end
  return ngx.say(cjson.encode(out))
end

function M.handle(variant)
  local uri, method = ngx.var.uri, ngx.req.get_method()
  if uri:sub(1, 8) == "/_bench/" then return admin(method, uri) end

  local s = stats
  s.requests = s.requests + 1
  if ngx.var.connection_requests == "1" then s.connections = s.connections + 1 end
  s.inflight = s.inflight + 1
  if s.inflight > s.max_inflight then s.max_inflight = s.inflight end

  local headers = nil
  if variant == "slow" then ngx.sleep(0.05) end

  local auth, version = ngx.var.http_authorization, ngx.var.http_version
  if not auth or auth:sub(1, 7) ~= "Bearer " or #auth < 8 then
    fail(401, "Invalid JWT", headers)
  elseif not version or version == "" then
    fail(400, "Version header was not found", headers)
  else
    local ok = true
    if variant == "limited" then
      ok, headers = take()
      if not ok then
        s.rejected = s.rejected + 1
        send(429, BODY_429, #BODY_429, headers)
      end
    end
    if ok then
      if method == "GET" and uri:sub(1, 10) == "/contacts/" and uri ~= "/contacts/search" then
        get_contact(uri:sub(11), headers)
      elseif method == "POST" and uri == "/contacts/search" then
        search(headers)
      else
        fail(404, ("Cannot %s %s"):format(method, (uri:gsub('[^%w/_.-]', ""))), headers)
      end
    end
  end
  s.inflight = s.inflight - 1
end

return M
