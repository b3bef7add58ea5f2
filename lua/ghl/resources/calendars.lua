--- client.calendars (spec: apps/calendars.json, Version 2021-04-15).
--
--   calendars:list{groupId=, showDrafted=}  get(id)  create(fields)  update(id, fields)  delete(id)
--   calendars:list_groups()  create_group(fields)  update_group(id, fields)  delete_group(id)
--   calendars:events{calendarId=|userId=|groupId=, startTime=, endTime=}
--   calendars:blocked_slots{...}          same arguments as events
--       times: os.time() seconds or epoch milliseconds; GHL gets milliseconds
--   calendars:free_slots(calendar_id, {startDate=, endDate=, timezone=, userId=})
--       ranges over 31 days are split into several calls and merged:
--       { ["2026-12-01"] = { slots = { "2026-12-01T09:00:00-05:00", ... } }, ... }
--   calendars:get_appointment(id)  create_appointment(fields)  update_appointment(id, fields)
--   calendars:create_block_slot(fields)  update_block_slot(id, fields)
--   calendars:delete_event(id)             an appointment or a block slot
--   calendars:list_appointment_notes(appointment_id, {limit=, offset=})   one page
--   calendars:each_appointment_note(appointment_id, {...})                every note
--   calendars:create_appointment_note(appointment_id, fields)
--   calendars:update_appointment_note(appointment_id, note_id, fields)
--   calendars:delete_appointment_note(appointment_id, note_id)
local resource = require "ghl.resource"
local check = require "ghl.check"
local errors = require "ghl.errors"

local DAY_MS = 86400000
local MAX_RANGE_MS = 31 * DAY_MS -- free-slots answers at most 31 days per call

-- Epoch milliseconds from seconds (os.time()) or milliseconds; numeric
-- strings too. Below 1e11 a number can only be seconds (1e11 ms is 1973).
local function to_ms(v, where, name)
  local n = tonumber(v)
  if type(v) ~= "number" and not (type(v) == "string" and n) then
    errors.invalid("%s: %s must be epoch seconds or milliseconds, got %s", where, name, type(v))
  end
  if n < 1e11 then n = n * 1000 end
  return math.floor(n)
end

local function window(self, parts, where)
  local q = parts.query
  local given = 0
  for _, k in ipairs{ "calendarId", "userId", "groupId" } do
    if q[k] ~= nil then given = given + 1 end
  end
  if given ~= 1 then
    errors.invalid("%s: give exactly one of calendarId, userId or groupId", where)
  end
  for _, k in ipairs{ "startTime", "endTime" } do
    if q[k] == nil then errors.invalid("%s: %s is required", where, k) end
    q[k] = ("%d"):format(to_ms(q[k], where, k))
  end
end

local function notes_page(_, parts)
  local q = parts.query
  if q.limit == nil then q.limit = 20 end
  if q.offset == nil then q.offset = 0 end
end

local WINDOW_DOC = " Give exactly one of `calendarId`, `userId` or `groupId`, and `startTime` and `endTime` as" ..
  " `os.time()` seconds or epoch milliseconds (GHL gets milliseconds)."

local Calendars = resource.define("calendars", {
  list = { op = "calendars.get-calendars", query = true, returns = "calendars",
           doc = "The calendars of the location. `groupId` keeps those of one group; `showDrafted` adds drafts." },
  get = { op = "calendars.get-calendar", args = { "calendarId" }, returns = "calendar" },
  create = { op = "calendars.create-calendar", body = true, returns = "calendar" },
  update = { op = "calendars.update-calendar", args = { "calendarId" }, body = true, returns = "calendar" },
  delete = { op = "calendars.delete-calendar", args = { "calendarId" }, returns = true },

  list_groups = { op = "calendars.get-groups", returns = "groups", doc = "The calendar groups of the location." },
  create_group = { op = "calendars.create-calendar-group", body = true, returns = "group" },
  update_group = { op = "calendars.edit-group", args = { "groupId" }, body = true, returns = "group" },
  delete_group = { op = "calendars.delete-group", args = { "groupId" }, returns = true },

  events = { op = "calendars.get-calendar-events", query = true, returns = "events", prepare = window,
             doc = "The appointments of a calendar, a user or a group between two times." .. WINDOW_DOC,
             example = "local events = assert(client.calendars:events{ calendarId = calendar_id,\n" ..
               "  startTime = os.time(), endTime = os.time() + 7 * 86400 })\n" ..
               "for _, ev in ipairs(events) do print(ev.startTime, ev.title) end" },
  blocked_slots = { op = "calendars.get-blocked-slots", query = true, returns = "events", prepare = window,
                    doc = "The block slots of a calendar, a user or a group between two times." .. WINDOW_DOC,
                    example = "local slots = assert(client.calendars:blocked_slots{ userId = user_id,\n" ..
                      "  startTime = os.time(), endTime = os.time() + 7 * 86400 })" },

  get_appointment = { op = "calendars.get-appointment", args = { "eventId" }, returns = "event" },
  create_appointment = { op = "calendars.create-appointment", body = true },
  update_appointment = { op = "calendars.edit-appointment", args = { "eventId" }, body = true },
  create_block_slot = { op = "calendars.create-block-slot", body = true },
  update_block_slot = { op = "calendars.edit-block-slot", args = { "eventId" }, body = true },
  delete_event = { op = "calendars.delete-event", args = { "eventId" }, returns = true,
                   doc = "Delete an appointment or a block slot." },

  list_appointment_notes = { op = "calendars.get-appointment-notes", args = { "appointmentId" }, query = true,
                             page = true, prepare = notes_page, defaults = { limit = 20, offset = 0 },
                             doc = "One page of the notes of an appointment. `limit` defaults to 20, `offset` to 0." },
  each_appointment_note = { op = "calendars.get-appointment-notes", args = { "appointmentId" }, query = true,
                            each = true, prepare = notes_page, defaults = { limit = 20, offset = 0 },
                            doc = "Every note of an appointment, across all pages (20 a page unless `limit` says)." },
  create_appointment_note = { op = "calendars.create-appointment-note", args = { "appointmentId" }, body = true,
                              returns = "note" },
  update_appointment_note = { op = "calendars.update-appointment-note", args = { "appointmentId", "noteId" },
                              body = true, returns = "note" },
  delete_appointment_note = { op = "calendars.delete-appointment-note", args = { "appointmentId", "noteId" },
                              returns = true },
})

resource.about(Calendars, [[
Calendars and calendar groups, appointments and block slots, appointment notes, and the free
slots to book. Calendar operations send Version `2021-04-15`. Times may be `os.time()` seconds or
epoch milliseconds; GHL gets milliseconds.]])

local slots = resource.define("calendars.free_slots", {
  run = { op = "calendars.get-slots", args = { "calendarId" }, query = true },
})

--- Free slots of a calendar between startDate and endDate (seconds or ms),
-- keyed by day. Ranges longer than GHL's 31 days are fetched in windows.
function Calendars:free_slots(calendar_id, params)
  local where = "calendars:free_slots"
  check.self(self, Calendars, where)
  check.id(calendar_id, where, "calendarId")
  check.table(params, where, "params")
  if params.startDate == nil or params.endDate == nil then
    errors.invalid("%s: startDate and endDate are required", where)
  end
  local from, to = to_ms(params.startDate, where, "startDate"), to_ms(params.endDate, where, "endDate")
  if to < from then errors.invalid("%s: endDate is before startDate", where) end
  local run = slots.new(self.client)
  local merged, seen = {}, {}
  local last_resp
  local start = from
  repeat
    local stop = math.min(start + MAX_RANGE_MS - 1, to)
    local q = resource.copy(params)
    q.startDate, q.endDate = ("%d"):format(start), ("%d"):format(stop)
    local body, resp = run:run(calendar_id, q)
    if body == nil then return nil, resp end
    last_resp = resp
    for day, v in pairs(body) do
      if type(v) == "table" and type(v.slots) == "table" then
        local into = merged[day] or { slots = {} }
        seen[day] = seen[day] or {}
        for _, slot in ipairs(v.slots) do
          if not seen[day][slot] then
            seen[day][slot] = true
            into.slots[#into.slots + 1] = slot
          end
        end
        merged[day] = into
      end
    end
    start = stop + 1
  until start > to
  for _, v in pairs(merged) do table.sort(v.slots) end
  last_resp.body = nil
  return merged, last_resp
end
resource.doc(Calendars, "free_slots", {
  op = "calendars.get-slots", args = { "calendarId" },
  doc = "The free slots of a calendar between two dates, by day. `startDate` and `endDate` may be" ..
    " `os.time()` seconds or epoch milliseconds. GHL answers at most 31 days a call: a longer range is" ..
    " fetched 31 days at a time and the days merged (each day's slots sorted, none twice).",
  params = {
    { "calendarId", "string", "the `{calendarId}` of the path: the calendar id" },
    { "params", "table", "query parameters; `startDate` and `endDate` are required" },
  },
  returns_text = {
    "table the days: `{ [\"2026-12-01\"] = { slots = { \"2026-12-01T09:00:00-05:00\", ... } }, ... }`",
    "table `resp` of the last call: `status`, `headers`, `trace_id`, `attempts`",
  },
  example = "local days = assert(client.calendars:free_slots(calendar_id, {\n" ..
    "  startDate = os.time(), endDate = os.time() + 7 * 86400, timezone = \"America/New_York\" }))\n" ..
    "for day, v in pairs(days) do print(day, #v.slots) end",
})

return Calendars
