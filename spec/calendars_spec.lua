-- client.calendars end to end: calendars, groups, events and free slots
-- (split over 31 days), appointments, block slots, appointment notes.
local h = require "spec.support.helpers"

local CAL = "CalMock0000000000001"
local GROUP = "CalGroup000000000001"
local APPT = "SeedE000000000000001"
local DAY = 86400

describe("calendars", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)
  local client
  before_each(function() client = h.client(srv) end)
  after_each(function() client:close() end)

  it("lists, reads, creates, updates and deletes calendars", function()
    local cals = assert(client.calendars:list())
    assert.are.equal(3, #cals)
    assert.are.equal(CAL, assert(client.calendars:get(CAL)).id)
    local c = assert(client.calendars:create{ name = "Consult", groupId = GROUP })
    assert.are.equal("Consult", c.name)
    assert.are.equal("Consult 2", assert(client.calendars:update(c.id, { name = "Consult 2" })).name)
    assert.is_true(assert(client.calendars:delete(c.id)))
    assert.are.equal("2021-04-15", h.last_request(srv).headers.version)
  end)

  it("lists, creates, updates and deletes groups", function()
    assert.is_true(#assert(client.calendars:list_groups()) >= 1)
    local g = assert(client.calendars:create_group{ name = "Team", description = "t", slug = "team-ghl" })
    assert.are.equal("Team", g.name)
    assert(client.calendars:update_group(g.id, { name = "Team 2", description = "t", slug = "team-ghl" }))
    assert.is_true(assert(client.calendars:delete_group(g.id)))
  end)

  it("events accept os.time() seconds and send milliseconds", function()
    local now = os.time()
    local events = assert(client.calendars:events{ calendarId = CAL, startTime = now - DAY, endTime = now + 60 * DAY })
    assert.is_true(#events > 0)
    local uri = h.last_request(srv).uri
    assert.matches("startTime=" .. (now - DAY) .. "000", uri)
    local same = assert(client.calendars:events{ calendarId = CAL, startTime = (now - DAY) * 1000,
                                                 endTime = (now + 60 * DAY) * 1000 })
    assert.are.equal(#events, #same)
    assert.is_table(assert(client.calendars:blocked_slots{ calendarId = CAL, startTime = now, endTime = now + 60 * DAY }))
  end)

  it("events need exactly one of calendarId, userId, groupId", function()
    local err = h.raised(client.calendars.events, client.calendars, { startTime = 1, endTime = 2 })
    assert.matches("exactly one of calendarId, userId or groupId", err.message)
  end)

  it("free_slots splits a 70-day range into 31-day calls and merges the days", function()
    local now = os.time()
    local days = assert(client.calendars:free_slots(CAL, { startDate = now, endDate = now + 70 * DAY }))
    local n = 0
    for day, v in pairs(days) do
      assert.matches("^%d%d%d%d%-%d%d%-%d%d$", day)
      assert.is_true(#v.slots > 0)
      n = n + 1
    end
    assert.is_true(n > 40, "weekdays over 70 days")
    local calls = 0
    for _, r in ipairs(h.requests(srv)) do
      if r.path:find("free%-slots") then
        calls = calls + 1
        local s, e = r.uri:match("startDate=(%d+)"), r.uri:match("endDate=(%d+)")
        assert.is_true(tonumber(e) - tonumber(s) <= 31 * DAY * 1000)
      end
    end
    assert.are.equal(3, calls)
  end)

  it("books an appointment in a free slot, reads and updates it, and deletes it", function()
    local now = os.time()
    local days = assert(client.calendars:free_slots(CAL, { startDate = now, endDate = now + 7 * DAY }))
    local slot
    for _, v in pairs(days) do
      if not slot or v.slots[1] < slot then slot = v.slots[1] end
    end
    local appt = assert(client.calendars:create_appointment{ calendarId = CAL, contactId = "SeedC000000000000002",
                                                             startTime = slot, title = "Demo" })
    assert.is_string(appt.id)
    assert.are.equal(appt.id, assert(client.calendars:get_appointment(appt.id)).id)
    assert.are.equal("Demo 2", assert(client.calendars:update_appointment(appt.id, { title = "Demo 2" })).title)
    local again, err = client.calendars:create_appointment{ calendarId = CAL, contactId = "SeedC000000000000003",
                                                            startTime = slot }
    assert.is_nil(again)
    assert.are.equal(400, err.status)
    assert.is_true(assert(client.calendars:delete_event(appt.id)))
  end)

  it("creates and updates block slots", function()
    local now = os.time()
    local start = os.date("!%Y-%m-%dT%H:00:00Z", now + 40 * DAY)
    local stop = os.date("!%Y-%m-%dT%H:00:00Z", now + 40 * DAY + 3600)
    local b = assert(client.calendars:create_block_slot{ calendarId = CAL, startTime = start, endTime = stop,
                                                         title = "Lunch" })
    assert.is_string(b.id)
    assert(client.calendars:update_block_slot(b.id, { calendarId = CAL, title = "Long lunch" }))
    assert.is_true(assert(client.calendars:delete_event(b.id)))
  end)

  it("appointment notes: one page, all of them by limit/offset, and CRUD", function()
    local page, resp = assert(client.calendars:list_appointment_notes(APPT, { limit = 10 }))
    assert.are.equal(10, #page)
    assert.is_true(resp.body.hasMore)
    local n = 0
    for _ in client.calendars:each_appointment_note(APPT, { limit = 10 }) do n = n + 1 end
    assert.are.equal(25, n)
    local note = assert(client.calendars:create_appointment_note(APPT, { body = "bring slides" }))
    assert.are.equal("x", assert(client.calendars:update_appointment_note(APPT, note.id, { body = "x" })).body)
    assert.is_true(assert(client.calendars:delete_appointment_note(APPT, note.id)))
  end)
end)
