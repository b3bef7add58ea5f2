-- Time for the local GHL server: epoch milliseconds, ISO 8601 in and out,
-- and the few IANA time zones the calendars need. Pure Lua (no tz database
-- in the test image); DST follows the US and EU rules in force since 2007.
local M = {}

local floor = math.floor

-- ngx.now is not available while nginx loads the config (init_by_lua), where
-- the seed is first built
function M.now_ms()
  local ok, t = pcall(function() return ngx.now() end)
  if ok and t then return floor(t * 1000) end
  return os.time() * 1000
end

-- days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm)
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
M.days_from_civil = days_from_civil

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end
M.civil_from_days = civil_from_days

local DAY = 86400000
M.DAY = DAY

-- 0 = Sunday ... 6 = Saturday (GHL's daysOfTheWeek numbering)
function M.weekday(days) return (days + 4) % 7 end

function M.ms(y, m, d, hh, mi, ss)
  return (days_from_civil(y, m, d) * 86400 + (hh or 0) * 3600 + (mi or 0) * 60 + (ss or 0)) * 1000
end

--- "2024-10-28T15:00:00.000Z"
function M.iso(ms)
  local days = floor(ms / DAY)
  local rest = ms - days * DAY
  local y, m, d = civil_from_days(days)
  local s = floor(rest / 1000)
  return ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"):format(y, m, d, floor(s / 3600), floor(s / 60) % 60, s % 60,
    rest % 1000)
end

--- Epoch ms of an ISO 8601 date or date-time ("2021-06-23", "...T03:30:00+05:30",
-- "...T10:00:00.000Z"); no zone means UTC. nil when it is not one.
function M.parse(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 then return nil end
  local hh, mi, ss, frac, off = 0, 0, 0, 0, 0
  if rest ~= "" then
    local h, m2, tail = rest:match("^[T ](%d%d):(%d%d)(.*)$")
    if not h then return nil end
    hh, mi, rest = tonumber(h), tonumber(m2), tail
    local s2, tail2 = rest:match("^:(%d%d)(.*)$")
    if s2 then ss, rest = tonumber(s2), tail2 end
    local f, tail3 = rest:match("^%.(%d+)(.*)$")
    if f then frac, rest = tonumber((f .. "00"):sub(1, 3)), tail3 end
    if rest == "Z" or rest == "" then
      off = 0
    else
      local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
      if not sign then return nil end
      off = (tonumber(oh) * 60 + tonumber(om)) * (sign == "-" and -1 or 1)
    end
  end
  if hh > 23 or mi > 59 or ss > 60 then return nil end
  return M.ms(y, mo, d, hh, mi, ss) + frac - off * 60000
end

--- A time given as epoch ms (number or digit string) or ISO 8601.
function M.any(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" then return nil end
  if v:match("^%d+$") then return tonumber(v) end
  return M.parse(v)
end

-- Time zones: standard offset in minutes and the DST rule, if any.
local ZONES = {
  ["UTC"] = { 0 }, ["Etc/UTC"] = { 0 }, ["GMT"] = { 0 },
  ["America/New_York"] = { -300, "us" }, ["US/Eastern"] = { -300, "us" }, ["America/Toronto"] = { -300, "us" },
  ["America/Detroit"] = { -300, "us" },
  ["America/Chicago"] = { -360, "us" }, ["US/Central"] = { -360, "us" },
  ["America/Denver"] = { -420, "us" }, ["US/Mountain"] = { -420, "us" }, ["America/Phoenix"] = { -420 },
  ["America/Los_Angeles"] = { -480, "us" }, ["US/Pacific"] = { -480, "us" }, ["America/Vancouver"] = { -480, "us" },
  ["America/Anchorage"] = { -540, "us" }, ["Pacific/Honolulu"] = { -600 },
  ["America/Chihuahua"] = { -360 }, ["America/Mexico_City"] = { -360 }, ["America/Bogota"] = { -300 },
  ["America/Sao_Paulo"] = { -180 },
  ["Europe/London"] = { 0, "eu" }, ["Europe/Dublin"] = { 0, "eu" }, ["Europe/Lisbon"] = { 0, "eu" },
  ["Europe/Paris"] = { 60, "eu" }, ["Europe/Berlin"] = { 60, "eu" }, ["Europe/Madrid"] = { 60, "eu" },
  ["Europe/Rome"] = { 60, "eu" }, ["Europe/Amsterdam"] = { 60, "eu" }, ["Europe/Stockholm"] = { 60, "eu" },
  ["Europe/Athens"] = { 120, "eu" }, ["Europe/Helsinki"] = { 120, "eu" },
  ["Africa/Johannesburg"] = { 120 }, ["Africa/Lagos"] = { 60 }, ["Asia/Dubai"] = { 240 },
  ["Asia/Kolkata"] = { 330 }, ["Asia/Calcutta"] = { 330 }, ["Asia/Singapore"] = { 480 },
  ["Asia/Manila"] = { 480 }, ["Asia/Tokyo"] = { 540 }, ["Australia/Brisbane"] = { 600 },
}

function M.known_zone(name) return ZONES[name] ~= nil end

function M.zone_names()
  local out = {}
  for k in pairs(ZONES) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function nth_sunday(y, m, n)
  local first = days_from_civil(y, m, 1)
  return first + (7 - M.weekday(first)) % 7 + 7 * (n - 1)
end

local function last_sunday(y, m)
  local last = days_from_civil(m == 12 and y + 1 or y, m == 12 and 1 or m + 1, 1) - 1
  return last - M.weekday(last)
end

--- UTC offset of the zone at that instant, in minutes.
function M.offset(zone, ms)
  local z = ZONES[zone] or ZONES.UTC
  local std, rule = z[1], z[2]
  if not rule then return std end
  local y = civil_from_days(floor(ms / DAY))
  local from, to
  if rule == "us" then -- 02:00 local: second Sunday in March to first Sunday in November
    from = nth_sunday(y, 3, 2) * DAY + (2 * 60 - std) * 60000
    to = nth_sunday(y, 11, 1) * DAY + (2 * 60 - std - 60) * 60000
  else -- 01:00 UTC: last Sunday in March to last Sunday in October
    from = last_sunday(y, 3) * DAY + 3600000
    to = last_sunday(y, 10) * DAY + 3600000
  end
  if ms >= from and ms < to then return std + 60 end
  return std
end

--- Local calendar parts of an instant: year, month, day, days-since-epoch, minute of day, offset.
function M.local_parts(ms, zone)
  local off = M.offset(zone, ms)
  local l = ms + off * 60000
  local days = floor(l / DAY)
  local y, m, d = civil_from_days(days)
  return y, m, d, days, floor((l - days * DAY) / 60000), off
end

--- "2024-10-28T10:00:00-05:00"
function M.local_iso(ms, zone)
  local off = M.offset(zone, ms)
  local l = ms + off * 60000
  local days = floor(l / DAY)
  local y, m, d = civil_from_days(days)
  local s = floor((l - days * DAY) / 1000)
  local a = math.abs(off)
  return ("%04d-%02d-%02dT%02d:%02d:%02d%s%02d:%02d"):format(y, m, d, floor(s / 3600), floor(s / 60) % 60, s % 60,
    off < 0 and "-" or "+", floor(a / 60), a % 60)
end

--- "2021-07-16 11:00:00" in the zone (the contacts appointments format)
function M.local_plain(ms, zone)
  return (M.local_iso(ms, zone):sub(1, 19):gsub("T", " "))
end

--- "2024-10-28" in the zone
function M.local_date(ms, zone)
  return M.local_iso(ms, zone):sub(1, 10)
end

--- Epoch ms of a wall-clock time (days since epoch + minute of day) in the zone.
function M.from_local(zone, days, minute)
  local l = days * DAY + minute * 60000
  local guess = l - M.offset(zone, l) * 60000
  return l - M.offset(zone, guess) * 60000
end

return M
