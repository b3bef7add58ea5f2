--- client.locations (spec: apps/locations.json). `location_id` defaults to
-- the client's wherever a path needs one.
--
--   locations:get(id?)                      a location (default: the client's)
--   locations:search{companyId=, ...}       one page;  each{...} every location (skip +
--                                           limit; GHL gives no total: stops on a short page)
--   locations:list_tags()  get_tag(tag_id)  create_tag(fields)  update_tag(tag_id, fields)
--   locations:delete_tag(tag_id)
--   locations:list_custom_fields{model=}  get_custom_field(id)  create_custom_field(fields)
--   locations:update_custom_field(id, fields)  delete_custom_field(id)
--   locations:list_custom_values()  get_custom_value(id)  create_custom_value(fields)
--   locations:update_custom_value(id, fields)  delete_custom_value(id)
--   locations:list_templates{originId=, type=, ...}   one page;  each_template{...}
--   locations:search_tasks{...}   one page;  each_task{...}
--   locations:timezones()
local resource = require "ghl.resource"
local check = require "ghl.check"

local Locations = resource.define("locations", {
  search = { op = "locations.search-locations", query = true, page = true,
             doc = "One page of the locations of an agency (`companyId`), by `skip` and `limit`." },
  each = { op = "locations.search-locations", query = true, each = true,
           doc = "Every location that matches, across all pages. GHL gives no total: the walk ends on a short page." },
  pages = { op = "locations.search-locations", query = true, pages = true },

  list_tags = { op = "locations.get-location-tags", returns = "tags", doc = "The tags of the location." },
  get_tag = { op = "locations.get-tag-by-id", args = { "tagId" }, returns = "tag" },
  create_tag = { op = "locations.create-tag", body = true, returns = "tag" },
  update_tag = { op = "locations.update-tag", args = { "tagId" }, body = true, returns = "tag" },
  delete_tag = { op = "locations.delete-tag", args = { "tagId" }, returns = true },

  list_custom_fields = { op = "locations.get-custom-fields", query = true, returns = "customFields",
                         doc = "The custom fields of the location; `model` (`contact`, `opportunity`, `all`) picks whose." },
  get_custom_field = { op = "locations.get-custom-field", args = { "id" }, returns = "customField" },
  create_custom_field = { op = "locations.create-custom-field", body = true, returns = "customField" },
  update_custom_field = { op = "locations.update-custom-field", args = { "id" }, body = true, returns = "customField" },
  delete_custom_field = { op = "locations.delete-custom-field", args = { "id" }, returns = true },

  list_custom_values = { op = "locations.get-custom-values", returns = "customValues",
                         doc = "The custom values of the location." },
  get_custom_value = { op = "locations.get-custom-value", args = { "id" }, returns = "customValue" },
  create_custom_value = { op = "locations.create-custom-value", body = true, returns = "customValue" },
  update_custom_value = { op = "locations.update-custom-value", args = { "id" }, body = true, returns = "customValue" },
  delete_custom_value = { op = "locations.delete-custom-value", args = { "id" }, returns = true },

  list_templates = { op = "locations.GET-all-or-email-sms-templates", query = true, page = true,
                     doc = "One page of the location's email and SMS templates." },
  each_template = { op = "locations.GET-all-or-email-sms-templates", query = true, each = true,
                    doc = "Every email and SMS template of the location, across all pages." },
  search_tasks = { op = "locations.task-search", body = "optional", page = true,
                   doc = "One page of the location's tasks that match (`contactId`, `completed`, `assignedTo`, ...)." },
  each_task = { op = "locations.task-search", body = "optional", each = true,
                doc = "Every task of the location that matches, across all pages." },
  timezones = { op = "locations.get-timezones", doc = "The time zones a location can be set to." },
})

resource.about(Locations, [[
The client's location (sub-account) and what belongs to it: tags, custom fields, custom values,
email and SMS templates, tasks; and the locations of an agency. `{locationId}` in a path is the
client's `location_id`.]])

local one = resource.define("locations.get", {
  run = { op = "locations.get-location", args = { "locationId" }, returns = "location" },
})
--- A location by id; without one, the client's location.
function Locations:get(id)
  check.self(self, Locations, "locations:get")
  id = id or self.client.location_id
  return one.new(self.client):run(id)
end
resource.doc(Locations, "get", {
  op = "locations.get-location", args = { "locationId" }, returns = "location",
  doc = "A location by its id; without one, the client's location.",
  params = { { "locationId", "string", "the `{locationId}` of the path; default: the client's `location_id`",
               opt = true } },
  example = "local location = assert(client.locations:get())\nprint(location.name, location.timezone)",
})

return Locations
