-- Appointment slots of a calendar: its openHours cut into slotDuration
-- pieces every slotInterval, in the location's time zone; "free" slots are
-- the future ones that no booked appointment or blocked slot overlaps.
-- One appointment per slot (appoinmentPerSlot 1), so a booking takes a slot.
local clock = require "ghl_mock.clock"
local state = require "ghl_mock.state"

local M = {}

local function minutes(n, unit)
  n = tonumber(n) or 30
  return unit == "hours" and n * 60 or n
end

function M.duration(cal) return minutes(cal.slotDuration, cal.slotDurationUnit) end

function M.zone(cal)
  local loc = state.locations[cal.locationId]
  return loc and loc.timezone or "UTC"
end

local function has_day(list, wd)
  for _, d in ipairs(list or {}) do
    if tonumber(d) == wd then return true end
  end
  return false
end

--- Start times (epoch ms, ascending) of the open slots starting in [from, to].
function M.open(cal, from, to)
  local zone = M.zone(cal)
  local dur = M.duration(cal)
  local step = minutes(cal.slotInterval or dur, cal.slotIntervalUnit)
  if step <= 0 then step = dur end
  local out, seen = {}, {}
  local _, _, _, d0 = clock.local_parts(from, zone)
  local _, _, _, d1 = clock.local_parts(to, zone)
  for days = d0, d1 do
    local wd = clock.weekday(days)
    for _, oh in ipairs(cal.openHours or {}) do
      if has_day(oh.daysOfTheWeek, wd) then
        for _, h in ipairs(oh.hours or {}) do
          local m = (h.openHour or 0) * 60 + (h.openMinute or 0)
          local close = (h.closeHour or 0) * 60 + (h.closeMinute or 0)
          while m + dur <= close do
            local t = clock.from_local(zone, days, m)
            if t >= from and t <= to and not seen[t] then
              seen[t] = true
              out[#out + 1] = t
            end
            m = m + step
          end
        end
      end
    end
  end
  table.sort(out)
  return out
end

--- Booked appointments and blocked slots that make a slot of this calendar
-- busy: the calendar's own, and (with opts.userId) that user's anywhere.
local function busy(cal, from, to, opts)
  local list = {}
  for _, ev in pairs(state.events) do
    if ev ~= opts.except and ev.appointmentStatus ~= "cancelled" and ev._end > from and ev._start < to
      and (ev.calendarId == cal.id or (opts.userId and ev.assignedUserId == opts.userId)) then
      list[#list + 1] = ev
    end
  end
  return list
end

--- The free slots starting in [from, to]: open, in the future, not busy.
-- opts: userId, except (an event to ignore, when moving it), now.
function M.free(cal, from, to, opts)
  opts = opts or {}
  local now = opts.now or clock.now_ms()
  local dur = M.duration(cal) * 60000
  local taken = busy(cal, from, to + dur, opts)
  local out = {}
  for _, t in ipairs(M.open(cal, math.max(from, now), to)) do
    local ok = true
    for _, ev in ipairs(taken) do
      if t < ev._end and ev._start < t + dur then
        ok = false
        break
      end
    end
    if ok then out[#out + 1] = t end
  end
  return out
end

--- Whether [start, end) is a free slot of the calendar.
function M.is_free(cal, start, finish, opts)
  opts = opts or {}
  for _, t in ipairs(M.free(cal, start, start, opts)) do
    if t == start then
      -- a longer booking must not run into the next busy time
      if finish > start + M.duration(cal) * 60000 then
        for _, ev in ipairs(busy(cal, start, finish, opts)) do
          if start < ev._end and ev._start < finish then return false end
        end
      end
      return true
    end
  end
  return false
end

return M
