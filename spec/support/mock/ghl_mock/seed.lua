-- Seed data of the local GHL server, built at start and on POST /_mock/reset.
-- Deterministic: its own random generator with fixed seeds, fixed ids and
-- fixed dates (calendar events alone are placed relative to today, in the
-- next 60 days, so free slots exist). Only location A gets data; location B
-- (OTHER_TOKEN's) stays empty so cross-location access can be tested.
local clock = require "ghl_mock.clock"
local slots = require "ghl_mock.calendar_slots"

local M = {}

local DAY = clock.DAY

-- Well-known ids that tests may rely on.
local ids = {
  location = "LocMockA0000000000001",
  other_location = "LocMockB0000000000002",
  company = "CompMock000000000001",
  pipelines = { "PipeMock000000000001", "PipeMock000000000002" },
  group = "CalGroup000000000001",
  calendars = { "CalMock0000000000001", "CalMock0000000000002", "CalMock0000000000003" },
  conversations = { "ConvMock000000000001", "ConvMock000000000002", "ConvMock000000000003",
                    "ConvMock000000000004", "ConvMock000000000005", "ConvMock000000000006" },
  campaigns = { "CmpgMock000000000001", "CmpgMock000000000002" },
}
M.ids = ids

function M.contact_id(i) return ("SeedC%015d"):format(i) end
function M.opportunity_id(i) return ("SeedO%015d"):format(i) end
function M.user_id(i) return ("UserMock%012d"):format(i) end
function M.workflow_id(i) return ("3f1e0000-0000-4000-a000-%012d"):format(i) end
function M.stage_id(p, s) return ("00000000-0000-4000-8000-%012d"):format(p * 100 + s) end
function M.email(i) return ("seed%04d@seed.example.com"):format(i) end

-- Park-Miller: exact in doubles, so LuaJIT and Lua 5.x agree
local function rng(seed)
  local x = seed
  local r = {}
  function r.next()
    x = (x * 16807) % 2147483647
    return x
  end
  function r.int(a, b) return a + r.next() % (b - a + 1) end
  function r.pick(t) return t[r.int(1, #t)] end
  function r.chance(p) return r.next() / 2147483647 < p end
  return r
end

local FIRST = { "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
  "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen", "Daniel",
  "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Priya", "Ashley", "Steven", "Emily", "Kenji",
  "Donna", "Andrew", "Michelle", "Omar", "Carol", "Lucas", "Amanda" }
local LAST = { "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
  "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
  "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
  "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores" }
local CITIES = { { "Austin", "TX", "73301" }, { "Denver", "CO", "80202" }, { "Chicago", "IL", "60601" },
  { "Seattle", "WA", "98101" }, { "Miami", "FL", "33101" }, { "Boston", "MA", "02108" },
  { "Phoenix", "AZ", "85001" }, { "Atlanta", "GA", "30301" }, { "Portland", "OR", "97201" },
  { "Nashville", "TN", "37201" } }
local COMPANIES = { "Acme Corp", "Globex", "Initech", "Umbrella LLC", "Stark Industries", "Wayne Enterprises",
  "Hooli", "Vandelay Imports", "Soylent Co", "Tyrell Corp" }
local TAGS = { "vip", "lead", "customer", "newsletter", "webinar", "trial", "partner", "churned", "referral",
  "event-2024", "hot", "cold" }
local SOURCES = { "public api", "form", "import", "facebook", "website", "referral" }

local CONTACT_BASE = clock.ms(2023, 1, 1)
local CONTACT_SPAN = 900 * DAY -- seeded contacts were added over about 2.5 years

-- contact i of location loc, added at ms
local function contact(i, loc, ms, r)
  local first, last = r.pick(FIRST), r.pick(LAST)
  local city = r.pick(CITIES)
  local tags, seen = {}, {}
  for _ = 1, r.int(0, 3) do
    local t = r.pick(TAGS)
    if not seen[t] then
      seen[t] = true
      tags[#tags + 1] = t
    end
  end
  local email = M.email(i)
  local c = {
    id = M.contact_id(i), locationId = loc, firstName = first, lastName = last,
    contactName = first .. " " .. last, email = email, emailLowerCase = email,
    phone = ("+1415%07d"):format(i), tags = tags, type = r.chance(0.3) and "customer" or "lead",
    source = r.pick(SOURCES), dnd = false, city = city[1], state = city[2], postalCode = city[3], country = "US",
    companyName = r.chance(0.4) and r.pick(COMPANIES) or nil,
    assignedTo = r.chance(0.5) and M.user_id(r.int(1, 30)) or nil,
    customFields = {}, followers = {},
    dateAdded = clock.iso(ms), dateUpdated = clock.iso(ms + r.int(0, 20) * DAY), _ms = ms,
  }
  if r.chance(0.33) then c.customFields = { { id = "CfMock00000000000001", value = r.int(0, 100) } } end
  return c
end

local function seed_contacts(state, loc)
  local r = rng(2500)
  local step = math.floor(CONTACT_SPAN / 2500)
  local list, ms = {}, CONTACT_BASE
  for i = 1, 2500 do
    -- every hundredth batch of five arrives in one import: same dateAdded,
    -- so the id breaks the tie in (dateAdded, id) order
    if i % 100 < 2 or i % 100 > 5 then ms = CONTACT_BASE + (i - 1) * step + r.int(0, step - 1) end
    list[i] = contact(i, loc, ms, r)
  end
  state.add_many("contacts", list)
  state.seq_contacts = 2500
end

--- Add n more contacts (POST /_mock/seed?contacts=n): seedNNNN emails go on
-- from the last one; their dates fall among the existing ones.
function M.add_contacts(state, n, loc)
  local start = state.seq_contacts or 0
  local r = rng(7919 + start)
  local list = {}
  for k = 1, n do
    local i = start + k
    list[k] = contact(i, loc, CONTACT_BASE + r.int(0, CONTACT_SPAN + 200 * DAY), r)
  end
  state.add_many("contacts", list)
  state.seq_contacts = start + n
  return n
end

local function seed_locations(state)
  local names = { "Mock Dental Clinic", "Mock Roofing Co", "Bright Smiles Ortho", "Peak Fitness", "Harbor Realty",
    "Green Lawn Care", "Summit Legal", "Blue Sky Travel", "Urban Bakery", "Nova Solar", "Oak Street Vet",
    "Prime Auto Repair", "Lotus Spa", "Metro Plumbing", "Sunrise Yoga", "Cedar Dental", "Pixel Agency",
    "Coastal Insurance", "River Coffee", "Atlas Movers", "Maple Tutoring", "Iron Gym", "Silver Salon",
    "Willow Florist", "Zenith Chiropractic" }
  for i = 1, 25 do
    local letter = string.char(64 + i)
    local city = CITIES[(i - 1) % #CITIES + 1]
    state.add("locations", {
      id = ("LocMock%s%013d"):format(letter, i), companyId = ids.company, name = names[i],
      domain = ("loc-%s.mock.example.com"):format(letter:lower()),
      address = ("%d Main Street"):format(100 + i), city = city[1], state = city[2], country = "US",
      postalCode = city[3], website = ("https://loc-%s.mock.example.com"):format(letter:lower()),
      timezone = "America/New_York", firstName = "Owner", lastName = letter,
      email = ("owner-%s@mock.example.com"):format(letter:lower()), phone = ("+1617555%04d"):format(i),
      business = { name = names[i], address = ("%d Main Street"):format(100 + i), city = city[1], state = city[2],
                   country = "US", postalCode = city[3], timezone = "America/New_York" },
      social = { facebookUrl = "", instagram = "", linkedIn = "", twitter = "", youtube = "" },
      settings = { allowDuplicateContact = false, allowDuplicateOpportunity = false,
                   allowFacebookNameMerge = false, disableContactTimezone = false },
      dateAdded = clock.iso(clock.ms(2022, 1, i)), _order = i,
    })
  end
end

local function seed_users(state, loc)
  local r = rng(30)
  for i = 1, 30 do
    local first, last = FIRST[(i * 7) % #FIRST + 1], LAST[(i * 11) % #LAST + 1]
    state.add("users", {
      id = M.user_id(i), name = first .. " " .. last, firstName = first, lastName = last,
      email = ("user%02d@mock-agency.example.com"):format(i), phone = ("+1512555%04d"):format(i), extension = "",
      companyId = ids.company, type = "account",
      roles = { type = "account", role = i <= 3 and "admin" or "user", locationIds = { loc },
                restrictSubAccount = false },
      permissions = { contactsEnabled = true, opportunitiesEnabled = true, appointmentsEnabled = true,
                      conversationsEnabled = true, workflowsEnabled = i <= 3, settingsEnabled = i <= 3,
                      assignedDataOnly = i > 20 },
      scopes = {}, deleted = false, platformLanguage = "en_US",
      dateAdded = clock.iso(clock.ms(2022, 6, 1) + i * DAY + r.int(0, 86399) * 1000),
    })
  end
end

local function seed_location_data(state, loc)
  for i, name in ipairs(TAGS) do
    state.add("tags", { id = ("TagMock%013d"):format(i), name = name, locationId = loc })
  end
  local fields = {
    { "Lead Score", "NUMERICAL", "contact" }, { "Favourite Colour", "SINGLE_OPTIONS", "contact" },
    { "Birthday Note", "TEXT", "contact" }, { "Preferred Contact Time", "SINGLE_OPTIONS", "contact" },
    { "Referral Code", "TEXT", "contact" }, { "Budget", "MONETORY", "opportunity" },
    { "Renewal Date", "DATE", "opportunity" }, { "Deal Notes", "LARGE_TEXT", "opportunity" },
  }
  for i, f in ipairs(fields) do
    local key = f[1]:lower():gsub("[^%w]+", "_")
    state.add("custom_fields", {
      id = ("CfMock%014d"):format(i), name = f[1], fieldKey = f[3] .. "." .. key, placeholder = f[1],
      dataType = f[2], position = (i - 1) * 50, model = f[3], locationId = loc,
      picklistOptions = f[2] == "SINGLE_OPTIONS" and { "Red", "Green", "Blue" } or nil,
      isAllowedCustomOption = false,
    })
  end
  local values = { { "Company Phone", "+1 617 555 0100" }, { "Office Address", "101 Main Street, Boston" },
    { "Support Email", "support@mock.example.com" }, { "Booking Link", "https://book.mock.example.com" },
    { "Owner Name", "Alex Owner" }, { "Promo Code", "SPRING25" } }
  for i, v in ipairs(values) do
    state.add("custom_values", {
      id = ("CvMock%014d"):format(i), name = v[1], value = v[2], locationId = loc,
      fieldKey = ("{{ custom_values.%s }}"):format((v[1]:lower():gsub("[^%w]+", "_"))),
    })
  end
  for i = 1, 30 do
    local sms = i % 3 ~= 0
    state.add("templates", {
      id = ("TplMock%013d"):format(i), name = ("%s template %02d"):format(sms and "SMS" or "Email", i),
      type = sms and "sms" or "email", locationId = loc, originId = loc,
      dateAdded = clock.iso(clock.ms(2024, 1, 1) + i * DAY), urlAttachments = sms and {} or nil,
      template = sms and { body = ("Hi {{contact.first_name}}, message %d"):format(i), attachments = {} }
        or { subject = ("Newsletter %d"):format(i), html = ("<p>Issue %d</p>"):format(i), attachments = {} },
      _order = i,
    })
  end
  local wf = { { "New Lead Nurture", "published" }, { "Appointment Reminder", "published" },
    { "Re-engagement", "draft" }, { "Onboarding Sequence", "published" }, { "Birthday Greeting", "draft" } }
  for i, w in ipairs(wf) do
    local t = clock.iso(clock.ms(2024, 2, i * 3))
    state.add("workflows", { id = M.workflow_id(i), name = w[1], status = w[2], version = i, createdAt = t,
                             updatedAt = t, locationId = loc })
  end
  state.add("campaigns", { id = ids.campaigns[1], name = "Spring Promo", status = "published", locationId = loc })
  state.add("campaigns", { id = ids.campaigns[2], name = "Win-back", status = "published", locationId = loc })
  local reasons = { "Too expensive", "Went with a competitor", "No response", "Not a fit" }
  for i, name in ipairs(reasons) do
    local t = clock.iso(clock.ms(2024, 1, i))
    state.add("lost_reasons", { id = ("LostMock%012d"):format(i), name = name, locationId = loc, createdAt = t,
                                updatedAt = t })
  end
end

local function seed_notes_tasks(state, loc)
  local r = rng(4242)
  for i = 1, 40 do
    local cid = i <= 3 and M.contact_id(1) or M.contact_id(r.int(2, 2500))
    state.add("notes", { id = ("NoteMock%012d"):format(i), contactId = cid, locationId = loc,
                         body = ("Note %d: called, left a voicemail."):format(i), userId = M.user_id(r.int(1, 30)),
                         dateAdded = clock.iso(clock.ms(2025, 1, 1) + i * 3600000), _ms = i })
  end
  for i = 1, 60 do
    local cid = i <= 3 and M.contact_id(1) or M.contact_id(r.int(2, 2500))
    state.add("tasks", { id = ("TaskMock%012d"):format(i), contactId = cid, locationId = loc,
                         title = ("Follow up %d"):format(i), body = "Send the proposal and confirm the call.",
                         assignedTo = M.user_id(r.int(1, 30)), completed = r.chance(0.3),
                         dueDate = clock.iso(clock.ms(2025, 7, 1) + r.int(0, 90) * DAY + 14 * 3600000),
                         dateAdded = clock.iso(clock.ms(2025, 1, 1) + i * 3600000), _ms = i })
  end
end

local function seed_opportunities(state, loc)
  local stages = {
    { "Sales Pipeline", { "New Lead", "Contacted", "Qualified", "Proposal Sent", "Negotiation", "Closed" } },
    { "Onboarding", { "Kickoff", "Setup", "Training", "Live" } },
  }
  for p, def in ipairs(stages) do
    local st = {}
    for s, name in ipairs(def[2]) do st[s] = { id = M.stage_id(p, s), name = name, position = s - 1 } end
    state.add("pipelines", { id = ids.pipelines[p], name = def[1], stages = st, locationId = loc,
                             showInFunnel = true, showInPieChart = true, _order = p })
  end
  local r = rng(300)
  local list = {}
  local base = clock.ms(2024, 1, 1)
  for i = 1, 300 do
    local p = i <= 200 and 1 or 2
    local nstages = #stages[p][2]
    local roll = r.int(1, 100)
    local status = roll <= 60 and "open" or roll <= 80 and "won" or roll <= 95 and "lost" or "abandoned"
    local ci = ((i - 1) * 8) % 2500 + 1 -- a different contact per opportunity
    local c = state.contacts[M.contact_id(ci)]
    local ms = base + i * 2 * DAY + r.int(0, DAY - 1)
    list[i] = {
      id = M.opportunity_id(i), name = ("%s - %s"):format(c.contactName, p == 1 and "New deal" or "Onboarding"),
      monetaryValue = r.int(2, 400) * 50, pipelineId = ids.pipelines[p],
      pipelineStageId = M.stage_id(p, r.int(1, nstages)), assignedTo = M.user_id(r.int(1, 30)), status = status,
      source = r.pick(SOURCES), contactId = c.id, locationId = loc,
      lostReasonId = status == "lost" and ("LostMock%012d"):format(r.int(1, 4)) or nil,
      customFields = {}, followers = {},
      createdAt = clock.iso(ms), updatedAt = clock.iso(ms + DAY), lastStatusChangeAt = clock.iso(ms + DAY),
      lastStageChangeAt = clock.iso(ms + DAY), lastActionDate = clock.iso(ms + DAY), indexVersion = 1, _ms = ms,
    }
  end
  state.add_many("opportunities", list)
end

local function seed_calendars(state, loc)
  state.add("groups", { id = ids.group, locationId = loc, name = "Sales Team",
                        description = "Calls with the sales team", slug = "sales-team", isActive = true })
  local weekdays = { 1, 2, 3, 4, 5 }
  local defs = {
    { "Discovery Call", 30, 30, { { daysOfTheWeek = weekdays, hours = { { openHour = 9, openMinute = 0,
      closeHour = 17, closeMinute = 0 } } } }, { 1, 2 } },
    { "Product Demo", 60, 60, { { daysOfTheWeek = weekdays, hours = { { openHour = 10, openMinute = 0,
      closeHour = 16, closeMinute = 0 } } } }, { 3, 4 } },
    { "Support Session", 30, 30, { { daysOfTheWeek = { 1, 2, 3, 4, 5, 6 }, hours = { { openHour = 8,
      openMinute = 0, closeHour = 12, closeMinute = 0 } } } }, { 5 } },
  }
  for i, d in ipairs(defs) do
    local members = {}
    for k, u in ipairs(d[5]) do
      members[k] = { userId = M.user_id(u), priority = 0.5, meetingLocationType = "custom", isPrimary = k == 1 }
    end
    local slug = d[1]:lower():gsub(" ", "-")
    state.add("calendars", {
      id = ids.calendars[i], locationId = loc, groupId = ids.group, name = d[1],
      description = d[1] .. " with our team", slug = slug, widgetSlug = slug, calendarType = "round_robin",
      eventType = "RoundRobin_OptimizeForAvailability", widgetType = "classic", eventTitle = "{{contact.name}}",
      eventColor = "#039be5", slotDuration = d[2], slotDurationUnit = "mins", slotInterval = d[3],
      slotIntervalUnit = "mins", slotBuffer = 0, preBuffer = 0, appoinmentPerSlot = 1, appoinmentPerDay = 0,
      allowBookingAfter = 0, allowBookingAfterUnit = "hours", allowBookingFor = 60, allowBookingForUnit = "days",
      openHours = d[4], teamMembers = members, notifications = {}, availabilities = {}, enableRecurring = false,
      autoConfirm = true, allowReschedule = true, allowCancellation = true, isActive = true, _order = i,
    })
  end

  -- events in the next 60 days (location time), one or two a day per calendar
  local now = clock.now_ms()
  local zone = state.locations[loc].timezone
  local _, _, _, today = clock.local_parts(now, zone)
  local r = rng(60)
  local n, nb = 0, 0
  local statuses = { "confirmed", "confirmed", "confirmed", "new", "showed", "cancelled" }
  for i, cid in ipairs(ids.calendars) do
    local cal = state.calendars[cid]
    local dur = slots.duration(cal) * 60000
    for day = today + 1, today + 60 do
      local from = clock.from_local(zone, day, 0)
      local open = slots.open(cal, from, clock.from_local(zone, day + 1, 0) - 1)
      if #open > 0 then
        local taken = {}
        for _ = 1, (r.chance(0.6) and r.int(1, 2) or 0) do
          local t = open[r.int(1, #open)]
          if not taken[t] then
            taken[t] = true
            n = n + 1
            local ci = n == 1 and 1 or r.int(1, 2500) -- SeedE...1 is contact SeedC...1's
            local c = state.contacts[M.contact_id(ci)]
            local user = cal.teamMembers[r.int(1, #cal.teamMembers)].userId
            local added = clock.iso(now - r.int(1, 30) * DAY)
            state.add("events", {
              id = ("SeedE%015d"):format(n), calendarId = cid, locationId = loc, contactId = c.id,
              groupId = ids.group, title = ("%s with %s"):format(cal.name, c.contactName),
              appointmentStatus = n == 1 and "confirmed" or r.pick(statuses), assignedUserId = user,
              users = { user }, notes = "", description = "", address = "https://meet.mock.example.com/" .. n,
              meetingLocationType = "custom", isRecurring = false, _start = t, _end = t + dur,
              dateAdded = added, dateUpdated = added,
            })
          end
        end
        -- a blocked hour now and then
        if (day - today) % 9 == i then
          local t = open[1]
          if not taken[t] and not taken[t + 1800000] then
            nb = nb + 1
            state.add("events", {
              id = ("SeedB%015d"):format(nb), calendarId = cid, locationId = loc, title = "Team meeting",
              assignedUserId = cal.teamMembers[1].userId, _blocked = true, _start = t, _end = t + 3600000,
              dateAdded = clock.iso(now - DAY), dateUpdated = clock.iso(now - DAY),
            })
          end
        end
      end
    end
  end
  -- 25 notes on the first appointment: more than one page (limit <= 20)
  for i = 1, 25 do
    state.add("appointment_notes", {
      id = ("ApptNote%012d"):format(i), appointmentId = "SeedE000000000000001", locationId = loc,
      body = ("Appointment note %d"):format(i), userId = M.user_id(1),
      contactId = state.events.SeedE000000000000001.contactId,
      createdBy = { id = M.user_id(1), name = state.users[M.user_id(1)].name },
      dateAdded = clock.iso(clock.ms(2025, 3, 1) + i * 60000), _ms = i,
    })
  end
end

local function seed_conversations(state, loc)
  local conv = require "ghl_mock.conversations"
  local msgs = require "ghl_mock.messages"
  -- {contact, message count, channel}; the first has exactly 120 messages
  local defs = { { 1, 120, "SMS" }, { 2, 3, "Email" }, { 3, 5, "WhatsApp" }, { 4, 8, "SMS" }, { 5, 2, "FB" },
                 { 6, 12, "SMS" } }
  local n = 0
  for k, d in ipairs(defs) do
    local c = state.contacts[M.contact_id(d[1])]
    local created = clock.ms(2025, 4, 1) + k * 3600000
    local cv = conv.new(loc, c, ids.conversations[k], created)
    local start = clock.ms(2025, 5, 1) - d[2] * 3 * 3600000 + k * 7 * 60000
    for j = 1, d[2] do
      n = n + 1
      local channel = d[3]
      if k == 1 and j % 12 == 0 then channel = "Email" elseif k == 1 and j % 12 == 6 then channel = "Call" end
      local inbound = j % 2 == 1
      msgs.new(cv, {
        id = ("SeedM%015d"):format(n), channel = channel, direction = inbound and "inbound" or "outbound",
        body = ("%s message %d of conversation %d"):format(channel, j, k),
        subject = channel == "Email" and ("Re: your enquiry %d"):format(j) or nil,
        status = inbound and "read" or "delivered", userId = not inbound and M.user_id(1) or nil,
        source = not inbound and "app" or nil,
      }, start + j * 3 * 3600000 + k * 1000)
    end
    cv.unreadCount = k == 6 and 2 or 0
    cv.starred = k == 6
  end
end

--- Build the whole seed into state (whose collections are empty).
function M.build(state)
  local loc = ids.location
  seed_locations(state)
  seed_users(state, loc)
  seed_contacts(state, loc)
  seed_location_data(state, loc)
  seed_notes_tasks(state, loc)
  seed_opportunities(state, loc)
  seed_calendars(state, loc)
  seed_conversations(state, loc)
end

return M
