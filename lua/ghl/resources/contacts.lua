--- client.contacts (spec: apps/contacts.json).
--
--   contacts:get(id)  create(fields)  update(id, fields)  delete(id)  upsert(fields)
--   contacts:search{query=, filters=, sort=, pageLimit=, page=}   one page of contacts
--   contacts:each{...}    every contact: POST /contacts/search, first page then the
--                         last contact's searchAfter (page stops at 10,000 records)
--   contacts:add_tags(id, tags)  remove_tags(id, tags)
--   contacts:list_notes(id)  get_note(id, note_id)  create_note(id, fields)
--           update_note(id, note_id, fields)  delete_note(id, note_id)
--   contacts:list_tasks(id)  get_task(id, task_id)  create_task(id, fields)
--           update_task(id, task_id, fields)  complete_task(id, task_id, completed)
--           delete_task(id, task_id)
--   contacts:add_followers(id, user_ids)  remove_followers(id, user_ids)
--   contacts:changed_since(since, params?, opts?)   every contact changed since a time
--                         (GHL filters on dateUpdated; ghl.export keeps a state across runs)
--   contacts:list_appointments(id)
--   contacts:add_to_workflow(id, workflow_id, fields?)  remove_from_workflow(id, workflow_id)
--   contacts:add_to_campaign(id, campaign_id)  remove_from_campaign(id, campaign_id)
--   contacts:remove_from_all_campaigns(id)
local resource = require "ghl.resource"
local check = require "ghl.check"

local SEARCH_PAGE = 100 -- pageLimit when the caller gives none (GHL needs one; max 500)

local function search_defaults(self, parts)
  local b = parts.body
  if b.locationId == nil then b.locationId = self.client.location_id end
  if b.pageLimit == nil then b.pageLimit = SEARCH_PAGE end
end

local SEARCH_DOC = " `locationId` defaults to the client's and `pageLimit` to 100 (GHL takes up to 500)."

local Contacts = resource.define("contacts", {
  get = { op = "contacts.get-contact", args = { "contactId" }, returns = "contact" },
  create = { op = "contacts.create-contact", body = true, returns = "contact" },
  update = { op = "contacts.update-contact", args = { "contactId" }, body = true, returns = "contact" },
  delete = { op = "contacts.delete-contact", args = { "contactId" }, returns = true },
  upsert = { op = "contacts.upsert-contact", body = true, returns = "contact" },
  search = { op = "contacts.search-contacts-advanced", body = "optional", page = true, prepare = search_defaults,
             defaults = { pageLimit = 100 },
             doc = "One page of the contacts that match a search: a free-text `query`, `filters`, `sort`." ..
               SEARCH_DOC .. " `page` (up to GHL's 10,000th result) or `searchAfter` picks the page." },
  each = { op = "contacts.search-contacts-advanced", body = "optional", each = true, prepare = search_defaults,
           defaults = { pageLimit = 100 },
           doc = "Every contact that matches a search, across all pages." .. SEARCH_DOC ..
             " The walk continues from the last contact's `searchAfter`, so GHL's 10,000-result limit on `page`" ..
             " does not stop it." },
  pages = { op = "contacts.search-contacts-advanced", body = "optional", pages = true, prepare = search_defaults,
            defaults = { pageLimit = 100 },
            doc = "Every page of the contacts that match a search, one at a time." ..
              SEARCH_DOC },

  list_notes = { op = "contacts.get-all-notes", args = { "contactId" }, returns = "notes", doc = "The notes of a contact." },
  get_note = { op = "contacts.get-note", args = { "contactId", "id" }, returns = "note" },
  create_note = { op = "contacts.create-note", args = { "contactId" }, body = true, returns = "note" },
  update_note = { op = "contacts.update-note", args = { "contactId", "id" }, body = true, returns = "note" },
  delete_note = { op = "contacts.delete-note", args = { "contactId", "id" }, returns = true },

  list_tasks = { op = "contacts.get-all-tasks", args = { "contactId" }, returns = "tasks", doc = "The tasks of a contact." },
  get_task = { op = "contacts.get-task", args = { "contactId", "taskId" }, returns = "task" },
  create_task = { op = "contacts.create-task", args = { "contactId" }, body = true, returns = "task" },
  update_task = { op = "contacts.update-task", args = { "contactId", "taskId" }, body = true, returns = "task" },
  delete_task = { op = "contacts.delete-task", args = { "contactId", "taskId" }, returns = true },

  list_appointments = { op = "contacts.get-appointments-for-contact", args = { "contactId" }, returns = "events",
                        doc = "The appointments of a contact." },
  add_to_workflow = { op = "contacts.add-contact-to-workflow", args = { "contactId", "workflowId" },
                      body = "optional", returns = true,
                      doc = "Enrol a contact in a workflow. `eventStartTime` sets when the workflow starts for it." },
  remove_from_workflow = { op = "contacts.delete-contact-from-workflow", args = { "contactId", "workflowId" },
                           returns = true, doc = "Take a contact out of a workflow." },
  add_to_campaign = { op = "contacts.add-contact-to-campaign", args = { "contactId", "campaignId" }, returns = true,
                      doc = "Add a contact to a campaign." },
  remove_from_campaign = { op = "contacts.remove-contact-from-campaign", args = { "contactId", "campaignId" },
                           returns = true, doc = "Take a contact out of a campaign." },
  remove_from_all_campaigns = { op = "contacts.remove-contact-from-every-campaign", args = { "contactId" },
                                returns = true, doc = "Take a contact out of every campaign." },
})

resource.about(Contacts, [[
The contacts of the client's location, with their notes, tasks, tags, followers, appointments,
and their campaigns and workflows. Objects come back unwrapped (the contact, not
`{ contact = {...} }`), with GHL's field names.]])

-- Methods that take a plain list (tags, user ids) wrap it in GHL's body.
local function list_method(name, op, field, returns, doc, example)
  local send = resource.define("contacts." .. name, {
    run = { op = op, args = { "contactId" }, body = true, returns = returns },
  })
  Contacts[name] = function(self, id, list)
    check.self(self, Contacts, "contacts:" .. name)
    check.table(list, "contacts:" .. name, field)
    return send.new(self.client):run(id, { [field] = list })
  end
  resource.doc(Contacts, name, { op = op, args = { "contactId" }, list = field, returns = returns, doc = doc,
                                 example = example })
end
list_method("add_tags", "contacts.add-tags", "tags", "tags",
  "Add tags to a contact; the tags it has already stay.",
  'local tags = assert(client.contacts:add_tags(contact_id, { "vip", "newsletter" }))')
list_method("remove_tags", "contacts.remove-tags", "tags", "tags",
  "Take tags off a contact.",
  'local tags = assert(client.contacts:remove_tags(contact_id, { "newsletter" }))')
list_method("add_followers", "contacts.add-followers-contact", "followers", "followers",
  "Add followers (user ids) to a contact.",
  "assert(client.contacts:add_followers(contact_id, { user_id }))")
list_method("remove_followers", "contacts.remove-followers-contact", "followers", "followers",
  "Take followers (user ids) off a contact.",
  "assert(client.contacts:remove_followers(contact_id, { user_id }))")

local set_completed = resource.define("contacts.complete_task", {
  run = { op = "contacts.update-task-completed", args = { "contactId", "taskId" }, body = true, returns = "task" },
})
--- Mark a task done (or not: completed = false).
function Contacts:complete_task(id, task_id, completed)
  check.self(self, Contacts, "contacts:complete_task")
  if completed == nil then completed = true end
  return set_completed.new(self.client):run(id, task_id, { completed = completed and true or false })
end
resource.doc(Contacts, "complete_task", {
  op = "contacts.update-task-completed", args = { "contactId", "taskId" }, returns = "task",
  doc = "Mark a task done, or not done with `completed = false`.",
  params = {
    { "contactId", "string", "the `{contactId}` of the path: the contact id" },
    { "taskId", "string", "the `{taskId}` of the path: the task id" },
    { "completed", "bool", "`true` (the default): done; `false`: not done. Sent as the body's `completed`",
      opt = true },
  },
  example = "local task = assert(client.contacts:complete_task(contact_id, task_id))\nprint(task.completed)",
})

--- Every contact changed since a time (no state: ghl.export keeps one across runs).
function Contacts:changed_since(since, params, opts)
  check.self(self, Contacts, "contacts:changed_since")
  return require("ghl.export").changed(self.client, "contacts", since, params, opts, "contacts:changed_since")
end
resource.doc(Contacts, "changed_since", {
  op = "contacts.search-contacts-advanced", each = true, pager = false,
  doc = "The contacts changed since a time, oldest change first. GHL does the filtering: the search's" ..
    " `dateUpdated` range filter (`gte`), sorted by `dateUpdated`, paged by `searchAfter`, so contacts" ..
    " changed at the same millisecond are neither lost nor repeated at a page boundary. For a job that runs" ..
    " again and again (each run: what changed since the last), `ghl.export{ resource = \"contacts\"," ..
    " state = path }` keeps the state file.",
  params = {
    { "since", "string|number", "ISO 8601 (`\"2026-01-31T08:00:00Z\"`), epoch seconds or ms, or a duration" ..
      " back from now (`\"24h\"`, `\"7d\"`)" },
    { "params", "table", "more of the search: `query`, `filters` (ANDed with the export's own)", opt = true },
    { "opts", "table", "`page_size` (default and most 500)", opt = true },
  },
  example = "for contact in client.contacts:changed_since(\"24h\") do\n  print(contact.id, contact.dateUpdated)\nend",
})

return Contacts
