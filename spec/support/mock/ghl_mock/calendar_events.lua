-- Calendar events (apps/calendars.json, Version 2021-04-15): events and
-- blocked slots in a time window (no cursor), appointments, block slots,
-- delete, free slots (a map keyed by date, range at most 31 days) and
-- appointment notes (limit + offset). Also a contact's appointments
-- (apps/contacts.json). Times are shown in the location's time zone.
local http = require "ghl_mock.http"
local state = require "ghl_mock.state"
local common = require "ghl_mock.common"
local clock = require "ghl_mock.clock"
local slots = require "ghl_mock.calendar_slots"
local contacts = require "ghl_mock.contacts"
local calendars = require "ghl_mock.calendars"

local M = {}

local V = "2021-04-15"
local MAX_SLOT_RANGE = 31 * clock.DAY
local APPOINTMENT_STATUSES = { "new", "confirmed", "cancelled", "showed", "noshow", "invalid" }
local APPOINTMENT_STATUS = common.set(APPOINTMENT_STATUSES)

local function zone_of(location)
  local loc = state.locations[location]
  return loc and loc.timezone or "UTC"
end

-- CalendarEventDTO
local function event_out(ev)
  local zone = zone_of(ev.locationId)
  local r = common.out(ev)
  r.startTime, r.endTime = clock.local_iso(ev._start, zone), clock.local_iso(ev._end, zone)
  r.assignedResources = http.EMPTY_ARRAY
  r.createdBy = { source = "third_party" }
  return r
end

-- AppointmentSchemaResponse (create and edit answer with the bare object)
local function appointment_out(ev)
  local zone = zone_of(ev.locationId)
  return common.out{
    id = ev.id, calendarId = ev.calendarId, locationId = ev.locationId, contactId = ev.contactId,
    startTime = clock.local_iso(ev._start, zone), endTime = clock.local_iso(ev._end, zone), title = ev.title,
    meetingLocationType = ev.meetingLocationType or "default", appointmentStatus = ev.appointmentStatus,
    assignedUserId = ev.assignedUserId, address = ev.address, isRecurring = false,
  }
end

-- BlockedSlotSuccessfulResponseDto
local function blocked_out(ev)
  local zone = zone_of(ev.locationId)
  return common.out{ id = ev.id, locationId = ev.locationId, title = ev.title,
                     startTime = clock.local_iso(ev._start, zone), endTime = clock.local_iso(ev._end, zone),
                     calendarId = ev.calendarId, assignedUserId = ev.assignedUserId }
end

local function by_start(a, b) return a._start < b._start or (a._start == b._start and a.id < b.id) end

-- GET /calendars/events and /calendars/blocked-slots: a window in epoch ms
-- and exactly one of calendarId, userId, groupId.
local function window(req, blocked)
  local problems = common.required_query(req, { "locationId", "startTime", "endTime" }, {})
  local from = common.int(common.q(req, "startTime"), "startTime", { string = true }, problems)
  local to = common.int(common.q(req, "endTime"), "endTime", { string = true }, problems)
  local by = {}
  for _, k in ipairs{ "calendarId", "userId", "groupId" } do
    local v = common.q(req, k)
    if v and v ~= "" then by[#by + 1] = { k, v } end
  end
  if #by ~= 1 then problems[#problems + 1] = "Exactly one of calendarId, userId or groupId must be provided" end
  local location = common.q(req, "locationId")
  if not common.ok(problems) or not common.own(req, location) then return end
  local field, value = by[1][1], by[1][2]
  local out = {}
  for _, ev in pairs(state.events) do
    local cal = state.calendars[ev.calendarId]
    local hit = (field == "calendarId" and ev.calendarId == value) or (field == "userId" and ev.assignedUserId == value)
      or (field == "groupId" and cal and cal.groupId == value)
    if hit and ev.locationId == location and (ev._blocked == true) == blocked and ev._start < to and ev._end > from then
      out[#out + 1] = ev
    end
  end
  table.sort(out, by_start)
  for i, ev in ipairs(out) do out[i] = event_out(ev) end
  return common.reply(200, { events = out, traceId = http.trace_id() })
end

local function events(req) return window(req, false) end
local function blocked_slots(req) return window(req, true) end

local function free_slots(req)
  local cal = calendars.load(req)
  if not cal then return end
  local problems = common.required_query(req, { "startDate", "endDate" }, {})
  local from = common.int(common.q(req, "startDate"), "startDate", {}, problems)
  local to = common.int(common.q(req, "endDate"), "endDate", {}, problems)
  local zone = common.q(req, "timezone")
  if zone and zone ~= "" and not clock.known_zone(zone) then
    problems[#problems + 1] = "timezone must be a valid IANA time zone"
  end
  if #problems == 0 then
    if to < from then
      problems[#problems + 1] = "endDate must not be before startDate"
    elseif to - from > MAX_SLOT_RANGE then
      problems[#problems + 1] = "The date range between startDate and endDate must not exceed 31 days"
    end
  end
  if not common.ok(problems) then return end
  if not zone or zone == "" then zone = slots.zone(cal) end
  local user = common.q(req, "userId")
  local body = { traceId = http.trace_id() }
  for _, t in ipairs(slots.free(cal, from, to, { userId = user ~= "" and user or nil })) do
    local day = clock.local_date(t, zone)
    local d = body[day]
    if not d then
      d = { slots = {} }
      body[day] = d
    end
    d.slots[#d.slots + 1] = clock.local_iso(t, zone)
  end
  return http.reply(200, body)
end

local APPOINTMENT_FIELDS = { "title", "meetingLocationType", "meetingLocationId", "overrideLocationConfig",
  "appointmentStatus", "assignedUserId", "description", "address", "ignoreDateRange", "toNotify",
  "ignoreFreeSlotValidation", "rrule", "calendarId", "locationId", "contactId", "startTime", "endTime" }
local APPOINTMENT_ALLOWED = common.set(APPOINTMENT_FIELDS)

-- start and end (ms) of a body: replies 422 and returns nil when invalid
local function times(body, problems, default_minutes, current)
  local start, finish
  if body.startTime ~= nil then
    start = clock.parse(body.startTime)
    if not start then problems[#problems + 1] = "startTime must be a valid ISO 8601 date string" end
  end
  if body.endTime ~= nil then
    finish = clock.parse(body.endTime)
    if not finish then problems[#problems + 1] = "endTime must be a valid ISO 8601 date string" end
  end
  start = start or (current and current._start)
  if start and not finish then
    finish = (body.startTime == nil and current) and current._end or start + default_minutes * 60000
  end
  if start and finish and finish <= start then problems[#problems + 1] = "endTime must be after startTime" end
  return start, finish
end

local function check_appointment(body, creating)
  local problems = common.whitelist(body, APPOINTMENT_ALLOWED, {})
  if creating then common.required(body, { "calendarId", "locationId", "contactId", "startTime" }, problems) end
  for _, k in ipairs{ "title", "assignedUserId", "description", "address", "calendarId", "locationId", "contactId" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  if body.appointmentStatus ~= nil and not APPOINTMENT_STATUS[body.appointmentStatus] then
    problems[#problems + 1] = "appointmentStatus must be one of the following values: "
      .. table.concat(APPOINTMENT_STATUSES, ", ")
  end
  return problems
end

-- a calendar named in a body must be one of the location's (400 otherwise)
local function body_calendar(location, id)
  local cal = state.calendars[id]
  if not cal or cal.locationId ~= location then
    common.bad_request("Calendar not found")
    return nil
  end
  return cal
end

local function slot_taken()
  return common.bad_request("The slot you have selected is no longer available.")
end

local function create_appointment(req)
  local body = http.json_body(req)
  if not body then return end
  local problems = check_appointment(body, true)
  local cal = state.calendars[body.calendarId]
  local start, finish = times(body, problems, cal and slots.duration(cal) or 30)
  if not common.ok(problems) or not common.own(req, body.locationId) then return end
  cal = body_calendar(body.locationId, body.calendarId)
  if not cal then return end
  local c = state.contacts[body.contactId]
  if not c or c.locationId ~= body.locationId then return common.bad_request("Contact not found") end
  if body.ignoreFreeSlotValidation ~= true and not slots.is_free(cal, start, finish) then return slot_taken() end
  local user = body.assignedUserId or (cal.teamMembers[1] and cal.teamMembers[1].userId)
  local now = state.now_iso()
  local ev = {
    id = state.new_id(), calendarId = cal.id, locationId = cal.locationId, contactId = c.id, groupId = cal.groupId,
    title = body.title or ("%s with %s"):format(cal.name, c.contactName or c.email or c.id),
    appointmentStatus = body.appointmentStatus or "confirmed", assignedUserId = user, users = { user },
    notes = "", description = body.description, address = body.address,
    meetingLocationType = body.meetingLocationType, isRecurring = false, _start = start, _end = finish,
    dateAdded = now, dateUpdated = now,
  }
  state.add("events", ev)
  return http.reply(200, appointment_out(ev))
end

local function load_event(req, blocked)
  local ev = common.load(state.events, req.params.eventId, req, blocked and "Event" or "Appointment")
  if ev and (ev._blocked == true) ~= blocked then
    common.not_found(blocked and "Event" or "Appointment")
    return nil
  end
  return ev
end

local function get_appointment(req)
  local ev = load_event(req, false)
  if ev then return common.reply(200, { event = event_out(ev) }) end
end

local function edit_appointment(req)
  local ev = load_event(req, false)
  if not ev then return end
  local body = http.json_body(req)
  if not body then return end
  local problems = check_appointment(body, false)
  if body.locationId ~= nil then problems[#problems + 1] = "property locationId should not exist" end
  if body.contactId ~= nil then problems[#problems + 1] = "property contactId should not exist" end
  local cal = state.calendars[body.calendarId or ev.calendarId]
  local start, finish = times(body, problems, cal and slots.duration(cal) or 30, ev)
  if not common.ok(problems) then return end
  cal = body_calendar(ev.locationId, body.calendarId or ev.calendarId)
  if not cal then return end
  local moved = start ~= ev._start or finish ~= ev._end or cal.id ~= ev.calendarId
  if moved and body.ignoreFreeSlotValidation ~= true and not slots.is_free(cal, start, finish, { except = ev }) then
    return slot_taken()
  end
  for _, k in ipairs{ "title", "appointmentStatus", "assignedUserId", "description", "address",
                      "meetingLocationType" } do
    if body[k] ~= nil then ev[k] = body[k] end
  end
  if body.assignedUserId then ev.users = { body.assignedUserId } end
  ev.calendarId, ev.groupId, ev._start, ev._end = cal.id, cal.groupId, start, finish
  ev.dateUpdated = state.now_iso()
  return http.reply(200, appointment_out(ev))
end

local BLOCK_ALLOWED = common.set{ "title", "calendarId", "assignedUserId", "locationId", "startTime", "endTime" }

local function block_body(req, creating, current)
  local body = http.json_body(req)
  if not body then return nil end
  local problems = common.whitelist(body, BLOCK_ALLOWED, {})
  common.required(body, { "calendarId", "locationId" }, problems)
  if creating then common.required(body, { "startTime", "endTime" }, problems) end
  local start, finish = times(body, problems, 60, current)
  if not common.ok(problems) or not common.own(req, body.locationId) then return nil end
  local cal = body_calendar(body.locationId, body.calendarId)
  if not cal then return nil end
  return body, cal, start, finish
end

local function create_block(req)
  local body, cal, start, finish = block_body(req, true)
  if not body then return end
  local now = state.now_iso()
  local ev = { id = state.new_id(), calendarId = cal.id, locationId = cal.locationId, title = body.title or "Blocked",
               assignedUserId = body.assignedUserId, _blocked = true, _start = start, _end = finish,
               dateAdded = now, dateUpdated = now }
  state.add("events", ev)
  return http.reply(201, blocked_out(ev))
end

local function edit_block(req)
  local ev = load_event(req, true)
  if not ev then return end
  local body, cal, start, finish = block_body(req, false, ev)
  if not body then return end
  ev.calendarId, ev._start, ev._end = cal.id, start, finish
  if body.title then ev.title = body.title end
  if body.assignedUserId then ev.assignedUserId = body.assignedUserId end
  ev.dateUpdated = state.now_iso()
  return http.reply(201, blocked_out(ev))
end

local function delete_event(req)
  local ev = common.load(state.events, req.params.eventId, req, "Event")
  if not ev then return end
  state.remove("events", ev)
  return http.reply(201, { succeeded = true })
end

-- appointment notes

local function load_appointment(req)
  local ev = state.events[req.params.appointmentId]
  if not ev or ev._blocked then
    common.not_found("Appointment")
    return nil
  end
  if not common.own(req, ev.locationId) then return nil end
  return ev
end

local function note_body(req)
  local body = http.json_body(req)
  if not body then return nil end
  local problems = common.whitelist(body, { body = true, userId = true }, {})
  common.required(body, { "body" }, problems)
  for _, k in ipairs{ "body", "userId" } do
    if body[k] ~= nil and type(body[k]) ~= "string" then problems[#problems + 1] = k .. " must be a string" end
  end
  if not common.ok(problems) then return nil end
  return body
end

local function list_notes(req)
  local problems = common.required_query(req, { "limit", "offset" }, {})
  local limit = common.int(common.q(req, "limit"), "limit", { min = 1, max = 20 }, problems)
  local offset = common.int(common.q(req, "offset"), "offset", { min = 0 }, problems)
  if not common.ok(problems) then return end
  local ev = load_appointment(req)
  if not ev then return end
  local all = {}
  for _, n in pairs(state.appointment_notes) do
    if n.appointmentId == ev.id then all[#all + 1] = n end
  end
  table.sort(all, function(a, b) return a.dateAdded > b.dateAdded or (a.dateAdded == b.dateAdded and a.id > b.id) end)
  return common.reply(200, { notes = common.slice(all, offset, limit), hasMore = offset + limit < #all })
end

local function create_note(req)
  local ev = load_appointment(req)
  local body = ev and note_body(req)
  if not body then return end
  local user = state.users[body.userId or ""]
  local n = { id = state.new_id(), appointmentId = ev.id, locationId = ev.locationId, body = body.body,
              userId = body.userId, contactId = ev.contactId, dateAdded = state.now_iso(),
              createdBy = user and { id = user.id, name = user.name } or nil }
  state.add("appointment_notes", n)
  return common.reply(201, { note = n })
end

local function load_note(req, ev)
  local n = state.appointment_notes[req.params.noteId]
  if not n or n.appointmentId ~= ev.id then
    common.not_found("Note")
    return nil
  end
  return n
end

local function update_note(req)
  local ev = load_appointment(req)
  local n = ev and load_note(req, ev)
  local body = n and note_body(req)
  if not body then return end
  n.body = body.body
  if body.userId then n.userId = body.userId end
  return common.reply(200, { note = n })
end

local function delete_note(req)
  local ev = load_appointment(req)
  local n = ev and load_note(req, ev)
  if not n then return end
  state.remove("appointment_notes", n)
  return http.reply(200, { success = true })
end

-- GET /contacts/{contactId}/appointments: GetEventSchema, local times
-- written "2021-07-16 11:00:00" as in the contacts spec
local function contact_appointments(req)
  local c = contacts.load(req)
  if not c then return end
  local list = {}
  for _, ev in pairs(state.events) do
    if ev.contactId == c.id and not ev._blocked then list[#list + 1] = ev end
  end
  table.sort(list, by_start)
  local zone = zone_of(c.locationId)
  for i, ev in ipairs(list) do
    local r = common.out(ev)
    r.status = ev.appointmentStatus == "cancelled" and "cancelled" or "booked"
    r.startTime, r.endTime = clock.local_plain(ev._start, zone), clock.local_plain(ev._end, zone)
    r.assignedResources = http.EMPTY_ARRAY
    list[i] = r
  end
  return common.reply(200, { events = list })
end

function M.register(route)
  route("GET", "/calendars/events", V, events)
  route("GET", "/calendars/blocked-slots", V, blocked_slots)
  route("POST", "/calendars/events/appointments", V, create_appointment)
  route("GET", "/calendars/events/appointments/{eventId}", V, get_appointment)
  route("PUT", "/calendars/events/appointments/{eventId}", V, edit_appointment)
  route("POST", "/calendars/events/block-slots", V, create_block)
  route("PUT", "/calendars/events/block-slots/{eventId}", V, edit_block)
  route("DELETE", "/calendars/events/{eventId}", V, delete_event)
  route("GET", "/calendars/{calendarId}/free-slots", V, free_slots)
  route("GET", "/calendars/appointments/{appointmentId}/notes", V, list_notes)
  route("POST", "/calendars/appointments/{appointmentId}/notes", V, create_note)
  route("PUT", "/calendars/appointments/{appointmentId}/notes/{noteId}", V, update_note)
  route("DELETE", "/calendars/appointments/{appointmentId}/notes/{noteId}", V, delete_note)
  route("GET", "/contacts/{contactId}/appointments", "2021-07-28", contact_appointments)
end

return M
