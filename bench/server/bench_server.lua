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
--   POST /contacts/upsert        GHL's upsert (W7): the body's contact matched by email (else
--                                phone) in this location, {"contact":{...},"new":true|false,
--                                "traceId":...} (200); 422 without locationId or without both
--                                email and phone, 400 when the body is not JSON
--   every request needs "Authorization: Bearer <anything>" (401) and a Version header (400)
--
--   GET  /locations/{locationId} 200 {"location":{...}} of about 1.3 KB
--   GET  /locations/{locationId}/tags  200 {"tags":[...]}, five tags of that location
--   POST /oauth/token, /oauth/locationToken   an agency's tokens, minted cheaply (agency
--        variant only: not counted, not limited, no latency); any code or refresh token
--        gets a Company token of CompBench00000000001, any companyId + locationId a
--        Location token for that location
--   every request needs "Authorization: Bearer <anything>" (401) and a Version header (400)
--
-- Variants (one server block each, see nginx.conf.in): "fast"; "slow" (the same after
-- ngx.sleep(0.05)); "limited" (fixed window of 1000 ms starting at the first request after
-- the previous one ended, 50 per window, GHL's five X-RateLimit-* headers on every answer,
-- 429 {"statusCode":429,"message":"Too many requests"} without Retry-After over the limit);
-- "agency" (GHL's limit per location: each location id has its own fixed window, by
-- default 10 per 2000 ms, counted when the request arrives; every answer comes after a
-- latency of 50 ms (ngx.sleep) with the five X-RateLimit-* headers of its location, and
-- over the limit it is a 429 with Retry-After, the seconds until the window ends, rounded
-- up). The location is the one the request names: the {locationId} of /locations/...,
-- else a locationId query parameter, else the benchmark's one location.
--
-- Admin (no auth, not counted):
--   POST /_bench/config {"contacts": N, "agency_max": N, "agency_interval_ms": N,
--                        "agency_latency_ms": N}   any of them: how many contacts search
--                                          walks over; the agency variant's limit and latency
--   POST /_bench/reset                    counters and the rate-limit windows start again
--   GET  /_bench/stats                    {"requests":,"connections":,"max_inflight":,"rejected":,"errors":,
--                                          "contacts":,"locations":,"span_ms":,"max_in_window":,
--                                          "upserts":,"upserts_new":}
--     span_ms: first request's arrival to the last answer; locations: distinct location ids
--     seen by the agency variant; max_in_window: the most answers one location got in one
--     window (never over agency_max: the server refuses the rest); mints: OAuth token answers;
--     upserts: upserts answered 200, upserts_new: those that made a contact (the rest matched
--     one an earlier upsert made: a row sent twice); the upserted contacts are forgotten on reset
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

-- the agency variant: per location (POST /_bench/config changes them)
local AGENCY = { max = 10, interval_ms = 2000, latency_ms = 50, daily = 200000 }
local COMPANY_ID = "CompBench00000000001"
local LOCATION = table.concat{
  '{"location":{"id":"@ID@","companyId":"', COMPANY_ID, '","name":"Bench Location @ID@",',
  '"domain":"","address":"12 St James\'s Square","city":"London","state":"Greater London",',
  '"logoUrl":"","country":"GB","postalCode":"SW1Y 4JH","website":"https://example.com",',
  '"timezone":"Europe/London","firstName":"Ada","lastName":"Lovelace","email":"ada@example.com",',
  '"phone":"+14155550123","business":{"name":"Analytical Engines Ltd","address":"12 St James\'s Square",',
  '"city":"London","state":"Greater London","country":"GB","postalCode":"SW1Y 4JH",',
  '"website":"https://example.com","timezone":"Europe/London","logoUrl":"","email":"ada@example.com"},',
  '"social":{"facebookUrl":"","googlePlus":"","linkedIn":"","foursquare":"","twitter":"",',
  '"yelp":"","instagram":"","youtube":"","pinterest":"","blogRss":"","googlePlacesId":""},',
  '"settings":{"allowDuplicateContact":false,"allowDuplicateOpportunity":false,',
  '"allowFacebookNameMerge":false,"disableContactTimezone":false}}}',
}
local LOC_LITS -- LOCATION cut at its @ID@ markers
local TAGS = '{"tags":[' .. table.concat({ "vip", "newsletter", "engine", "lead", "customer" }, ",")
  :gsub("(%w+)", function(name) return ('{"id":"Tag%-17s","name":"%s","locationId":"@ID@"}'):format(name, name) end)
  :gsub(" ", "0") .. "]}"
local TAG_LITS

local stats, win, contacts_n, loc_wins, upserted
-- pages of contacts already built ("start:last" -> the text between [ and ]): every
-- contender walks the same pages, so after the first walk (the warm-up) a page is one
-- ngx.print of a string; bounded, past the bound pages are built every time
local pages, pages_bytes, PAGES_MAX_BYTES = {}, 0, 400 * 1024 * 1024
local function reset()
  stats = { requests = 0, connections = 0, inflight = 0, max_inflight = 0, rejected = 0, errors = 0,
            locations = 0, max_in_window = 0, first_ms = -1, last_ms = -1, mints = 0, upserts = 0,
            upserts_new = 0 }
  upserted = {} -- "email:<lowercased>" or "phone:<phone>" -> the contact the upsert made
  win = { start = -math.huge, n = 0, daily = 0 }
  loc_wins = {} -- location id -> its window { start =, n =, daily = }
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
  local names
  LOC_LITS, names = cut(LOCATION)
  assert(#names == 2 and names[1] == "ID" and names[2] == "ID")
  assert(cjson.decode(LOC_LITS[1] .. LOCATION_ID .. LOC_LITS[2] .. LOCATION_ID .. LOC_LITS[3]),
    "the location template is not JSON")
  TAG_LITS, names = cut(TAGS)
  assert(#names == 5)
  assert(cjson.decode(table.concat(TAG_LITS, LOCATION_ID)), "the tags template is not JSON")
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

local function get_location(id, headers)
  if not id:find("^%w+$") then return fail(400, "Invalid locationId", headers) end
  local parts = { LOC_LITS[1], id, LOC_LITS[2], id, LOC_LITS[3] }
  return send(200, parts, #LOC_LITS[1] + #LOC_LITS[2] + #LOC_LITS[3] + 2 * #id, headers)
end

local function get_tags(id, headers)
  if not id:find("^%w+$") then return fail(400, "Invalid locationId", headers) end
  local lits = TAG_LITS
  local parts, len = {}, 0
  for k = 1, #lits do
    parts[#parts + 1] = lits[k]
    len = len + #lits[k]
    if k < #lits then parts[#parts + 1] = id; len = len + #id end
  end
  return send(200, parts, len, headers)
end

-- The agency's tokens (agency variant): answered at once, not counted. A real app would
-- have most of them in its store; here each location's first call mints one.
local token_n = 0
local function oauth(uri)
  ngx.req.read_body()
  local args = ngx.req.get_post_args() or {}
  stats.mints = stats.mints + 1
  token_n = token_n + 1
  local out
  if uri == "/oauth/token" then
    if not args.client_id or not args.client_secret or not (args.code or args.refresh_token) then
      return fail(400, "client_id, client_secret and a code or refresh_token are required")
    end
    out = { access_token = "agency-bench-token-" .. token_n, token_type = "Bearer", expires_in = 86399,
            refresh_token = "agency-bench-refresh-" .. token_n, scope = "locations/tags.readonly",
            userType = "Company", companyId = COMPANY_ID, userId = "UsrBench000000000001" }
  else
    local auth = ngx.var.http_authorization
    if not auth or auth:sub(1, 7) ~= "Bearer " then return fail(401, "Invalid JWT") end
    local loc = args.locationId
    if args.companyId ~= COMPANY_ID or type(loc) ~= "string" or not loc:find("^%w+$") then
      return fail(400, "companyId and locationId are required")
    end
    out = { access_token = "loc-bench-token-" .. loc .. "-" .. token_n, token_type = "Bearer", expires_in = 86399,
            refresh_token = "loc-bench-refresh-" .. loc .. "-" .. token_n, scope = "locations/tags.readonly",
            userType = "Location", companyId = COMPANY_ID, locationId = loc, userId = "UsrBench000000000001" }
  end
  local body = cjson.encode(out)
  return send(200, body, #body)
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

-- POST /contacts/upsert (W7): matched by email, else phone, as GHL does with the location's
-- "allow duplicate contact" setting off; the contact GHL answers with is the body's fields
-- and what GHL adds (id, dates, the lowercased email, the name)
local UPSERT_FIELDS = { "firstName", "lastName", "name", "email", "phone", "companyName", "address1", "city",
                        "state", "postalCode", "country", "website", "timezone", "source", "dateOfBirth",
                        "gender", "assignedTo" }
local upsert_n = 0
local function upsert(headers)
  ngx.req.read_body()
  local b = cjson.decode(ngx.req.get_body_data() or "")
  if type(b) ~= "table" then return fail(400, "Unexpected token in JSON", headers) end
  if type(b.locationId) ~= "string" or b.locationId == "" then
    return fail(422, "locationId should not be empty", headers)
  end
  local email = type(b.email) == "string" and b.email ~= "" and b.email:lower() or nil
  local phone = type(b.phone) == "string" and b.phone ~= "" and b.phone or nil
  if not email and not phone then return fail(422, "email or phone is required to upsert a contact", headers) end
  if email and not email:find("^[^@%s]+@[^@%s]+%.[^@%s]+$") then return fail(422, "email must be an email", headers) end
  local c = email and upserted["email:" .. email] or phone and upserted["phone:" .. phone]
  local new = c == nil
  ngx.update_time()
  local now = iso_of(ngx.now() * 1000)
  if new then
    upsert_n = upsert_n + 1
    c = { id = ("Up%018d"):format(upsert_n), locationId = b.locationId, type = "lead", dnd = false, dateAdded = now,
          tags = {} }
    stats.upserts_new = stats.upserts_new + 1
  end
  for _, k in ipairs(UPSERT_FIELDS) do
    if type(b[k]) == "string" then c[k] = b[k] end
  end
  if type(b.tags) == "table" then
    local have = {}
    for _, t in ipairs(c.tags) do have[t] = true end
    for _, t in ipairs(b.tags) do
      if type(t) == "string" and not have[t] then c.tags[#c.tags + 1], have[t] = t, true end
    end
  end
  if email then c.emailLowerCase = email; upserted["email:" .. email] = c end
  if phone then upserted["phone:" .. phone] = c end
  c.contactName = ((c.firstName or "") .. " " .. (c.lastName or "")):lower():gsub("^%s+", ""):gsub("%s+$", "")
  c.dateUpdated = now
  local tags = c.tags
  if #tags == 0 then c.tags = nil end -- lua-cjson 2.1 writes an empty table as {}
  stats.upserts = stats.upserts + 1
  local body = cjson.encode{ contact = c, new = new, traceId = ("bench-trace-%d"):format(stats.requests) }
  c.tags = tags
  return send(200, body, #body, headers)
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

-- the agency variant: the window of the request's location, counted now; true and the
-- five headers, or false and them with Retry-After
local function take_location(loc, now)
  local w = loc_wins[loc]
  if not w then
    w = { start = -math.huge, n = 0, daily = 0 }
    loc_wins[loc] = w
    stats.locations = stats.locations + 1
  end
  local A = AGENCY
  if now - w.start >= A.interval_ms then w.start, w.n = now, 0 end
  local ok = w.n < A.max and w.daily < A.daily
  if ok then
    w.n, w.daily = w.n + 1, w.daily + 1
    if w.n > stats.max_in_window then stats.max_in_window = w.n end
  end
  local h = {
    ["X-RateLimit-Limit-Daily"] = A.daily,
    ["X-RateLimit-Daily-Remaining"] = A.daily - w.daily,
    ["X-RateLimit-Interval-Milliseconds"] = A.interval_ms,
    ["X-RateLimit-Max"] = A.max,
    ["X-RateLimit-Remaining"] = ok and A.max - w.n or 0,
  }
  if not ok then h["Retry-After"] = math.max(1, math.ceil((w.start + A.interval_ms - now) / 1000)) end
  return ok, h
end

local function location_of(uri)
  return uri:match("^/locations/(%w+)") or ngx.var.arg_locationId or LOCATION_ID
end

local function admin(method, uri)
  local out
  if uri == "/_bench/config" and method == "POST" then
    ngx.req.read_body()
    local b = cjson.decode(ngx.req.get_body_data() or "")
    if type(b) ~= "table" then
      ngx.status = 400
      return ngx.say('{"message":"the body must be a JSON object"}')
    end
    local keys = { contacts = 0, agency_max = 1, agency_interval_ms = 1, agency_latency_ms = 0 }
    for k, v in pairs(b) do
      local least = keys[k]
      if not least or type(v) ~= "number" or v < least or v % 1 ~= 0 then
        ngx.status = 400
        return ngx.say(('{"message":"%s: a whole number, at least %s"}'):format(tostring(k), tostring(least or 0)))
      end
    end
    if b.contacts then contacts_n = b.contacts end
    if b.agency_max then AGENCY.max = b.agency_max end
    if b.agency_interval_ms then AGENCY.interval_ms = b.agency_interval_ms end
    if b.agency_latency_ms then AGENCY.latency_ms = b.agency_latency_ms end
    out = { contacts = contacts_n, agency_max = AGENCY.max, agency_interval_ms = AGENCY.interval_ms,
            agency_latency_ms = AGENCY.latency_ms }
  elseif uri == "/_bench/reset" and method == "POST" then
    reset()
    out = { reset = true }
  elseif uri == "/_bench/stats" and method == "GET" then
    out = {}
    for k, v in pairs(stats) do out[k] = v end
    out.contacts = contacts_n
    out.span_ms = stats.first_ms >= 0 and math.floor(stats.last_ms - stats.first_ms + 0.5) or 0
    out.first_ms, out.last_ms = nil, nil
  else
    ngx.status = 404
    return ngx.say('{"message":"unknown admin endpoint"}')
  end
  return ngx.say(cjson.encode(out))
end

function M.handle(variant)
  local uri, method = ngx.var.uri, ngx.req.get_method()
  if uri:sub(1, 8) == "/_bench/" then return admin(method, uri) end
  if variant == "agency" and method == "POST" and (uri == "/oauth/token" or uri == "/oauth/locationToken") then
    return oauth(uri)
  end

  local s = stats
  s.requests = s.requests + 1
  if ngx.var.connection_requests == "1" then s.connections = s.connections + 1 end
  s.inflight = s.inflight + 1
  if s.inflight > s.max_inflight then s.max_inflight = s.inflight end

  local headers, ok = nil, true
  if variant == "slow" then ngx.sleep(0.05) end
  if variant == "agency" then
    -- counted on arrival, answered after the latency
    ngx.update_time()
    local now = ngx.now() * 1000
    if s.first_ms < 0 then s.first_ms = now end
    ok, headers = take_location(location_of(uri), now)
    if AGENCY.latency_ms > 0 then ngx.sleep(AGENCY.latency_ms / 1000) end
  end

  local auth, version = ngx.var.http_authorization, ngx.var.http_version
  if not auth or auth:sub(1, 7) ~= "Bearer " or #auth < 8 then
    fail(401, "Invalid JWT", headers)
  elseif not version or version == "" then
    fail(400, "Version header was not found", headers)
  else
    if variant == "limited" then ok, headers = take() end
    if not ok then
      s.rejected = s.rejected + 1
      send(429, BODY_429, #BODY_429, headers)
    elseif method == "GET" and uri:sub(1, 10) == "/contacts/" and uri ~= "/contacts/search" then
      get_contact(uri:sub(11), headers)
    elseif method == "POST" and uri == "/contacts/search" then
      search(headers)
    elseif method == "POST" and uri == "/contacts/upsert" then
      upsert(headers)
    elseif method == "GET" and uri:sub(1, 11) == "/locations/" then
      local id, rest = uri:match("^/locations/([^/]*)(.*)$")
      if rest == "/tags" then get_tags(id, headers)
      elseif rest == "" then get_location(id, headers)
      else fail(404, ("Cannot %s %s"):format(method, (uri:gsub('[^%w/_.-]', ""))), headers) end
    else
      fail(404, ("Cannot %s %s"):format(method, (uri:gsub('[^%w/_.-]', ""))), headers)
    end
  end
  s.inflight = s.inflight - 1
  if variant == "agency" then
    ngx.update_time()
    s.last_ms = ngx.now() * 1000
  end
end

return M
