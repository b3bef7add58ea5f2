-- Book the first free slot of a calendar for a contact.
--
--   GHL_CALENDAR_ID, GHL_CONTACT_ID pick them; otherwise the first calendar and
--   a new contact are used.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")

support.run(function(client)
  local calendar_id = os.getenv("GHL_CALENDAR_ID")
  if not calendar_id then
    local calendars = assert(client.calendars:list())
    calendar_id = assert(calendars[1], "the location has no calendar").id
  end
  local contact_id = os.getenv("GHL_CONTACT_ID")
  if not contact_id then
    contact_id = assert(client.contacts:create{ firstName = "Booked", lastName = "Example",
      email = ("booked.%d@example.com"):format(os.time()) }).id
  end

  -- free slots over the next 7 days (os.time() seconds are fine: ghl sends ms)
  local now = os.time()
  local days = assert(client.calendars:free_slots(calendar_id, { startDate = now, endDate = now + 7 * 86400 }))
  local first
  for day, v in pairs(days) do
    if v.slots[1] and (not first or v.slots[1] < first) then first = v.slots[1] end
  end
  assert(first, "no free slot in the next 7 days")

  local appt = assert(client.calendars:create_appointment{
    calendarId = calendar_id, contactId = contact_id, startTime = first, title = "Booked by ghl",
  })
  print(("booked appointment %s on calendar %s at %s for contact %s"):format(appt.id, calendar_id, first, contact_id))
end)
