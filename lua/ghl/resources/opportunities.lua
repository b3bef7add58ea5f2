--- client.opportunities (spec: apps/opportunities.json).
--
--   opportunities:get(id)  create(fields)  update(id, fields)  delete(id)  upsert(fields)
--   opportunities:update_status(id, status)      "open" | "won" | "lost" | "abandoned"
--   opportunities:search{...}   one page; GET /opportunities/search takes snake_case
--                               query names (location_id, pipeline_id, status, q, limit)
--   opportunities:each{...}     every match: meta.startAfter + meta.startAfterId (never
--                               meta.nextPageUrl, whose host is not GHL's)
--   opportunities:pipelines()   pipelines with their stages
--   opportunities:changed_since(since, params?, opts?)   every deal changed (updatedAt: read
--                               them all) or created (opts.field = "createdAt": GHL filters)
--   opportunities:add_followers(id, user_ids)  remove_followers(id, user_ids)
local resource = require "ghl.resource"
local check = require "ghl.check"

local Opportunities = resource.define("opportunities", {
  get = { op = "opportunities.get-opportunity", args = { "id" }, returns = "opportunity" },
  create = { op = "opportunities.create-opportunity", body = true, returns = "opportunity" },
  update = { op = "opportunities.update-opportunity", args = { "id" }, body = true, returns = "opportunity" },
  delete = { op = "opportunities.delete-opportunity", args = { "id" }, returns = true },
  upsert = { op = "opportunities.Upsert-opportunity", body = true, returns = "opportunity" },
  search = { op = "opportunities.search-opportunity", query = true, page = true,
             doc = "One page of the opportunities that match. GHL's names here are snake_case (`location_id`," ..
               " `pipeline_id`, `pipeline_stage_id`, `contact_id`, `status`, `q`, `limit`).",
             example = "local opps = assert(client.opportunities:search{ pipeline_id = pipeline_id, status = \"open\" })" },
  each = { op = "opportunities.search-opportunity", query = true, each = true,
           doc = "Every opportunity that matches, across all pages. The walk continues from `meta.startAfter` and" ..
             " `meta.startAfterId` (never `meta.nextPageUrl`, whose host is not GHL's).",
           example = "for opp in client.opportunities:each{ status = \"open\", max_items = 500 } do\n" ..
             "  print(opp.id, opp.monetaryValue)\nend" },
  pages = { op = "opportunities.search-opportunity", query = true, pages = true },
  pipelines = { op = "opportunities.get-pipelines", returns = "pipelines",
                doc = "The pipelines of the location, with their stages." },
})

resource.about(Opportunities, [[
Opportunities (deals) in the location's pipelines: find, create, update, move, set their status,
and their followers.]])

local status = resource.define("opportunities.update_status", {
  run = { op = "opportunities.update-opportunity-status", args = { "id" }, body = true, returns = true },
})
--- Set the status of an opportunity.
function Opportunities:update_status(id, new_status)
  check.self(self, Opportunities, "opportunities:update_status")
  check.id(new_status, "opportunities:update_status", "status")
  return status.new(self.client):run(id, { status = new_status })
end
resource.doc(Opportunities, "update_status", {
  op = "opportunities.update-opportunity-status", args = { "id" }, returns = true,
  doc = "Set the status of an opportunity.",
  params = {
    { "id", "string", "the `{id}` of the path: the opportunity id" },
    { "status", "string", "`open`, `won`, `lost` or `abandoned`: the body's `status`" },
  },
  example = "assert(client.opportunities:update_status(opportunity_id, \"won\"))",
})

local followers = resource.define("opportunities.followers", {
  add = { op = "opportunities.add-followers-opportunity", args = { "id" }, body = true, returns = "followers" },
  remove = { op = "opportunities.remove-followers-opportunity", args = { "id" }, body = true, returns = "followers" },
})
function Opportunities:add_followers(id, user_ids)
  check.self(self, Opportunities, "opportunities:add_followers")
  check.table(user_ids, "opportunities:add_followers", "followers")
  return followers.new(self.client):add(id, { followers = user_ids })
end
function Opportunities:remove_followers(id, user_ids)
  check.self(self, Opportunities, "opportunities:remove_followers")
  check.table(user_ids, "opportunities:remove_followers", "followers")
  return followers.new(self.client):remove(id, { followers = user_ids })
end
resource.doc(Opportunities, "add_followers", {
  op = "opportunities.add-followers-opportunity", args = { "id" }, list = "followers", returns = "followers",
  doc = "Add followers (user ids) to an opportunity.",
  example = "assert(client.opportunities:add_followers(opportunity_id, { user_id }))",
})
resource.doc(Opportunities, "remove_followers", {
  op = "opportunities.remove-followers-opportunity", args = { "id" }, list = "followers", returns = "followers",
  doc = "Take followers (user ids) off an opportunity.",
  example = "assert(client.opportunities:remove_followers(opportunity_id, { user_id }))",
})

--- Every opportunity changed (or, with opts.field = "createdAt", created) since a time.
function Opportunities:changed_since(since, params, opts)
  check.self(self, Opportunities, "opportunities:changed_since")
  return require("ghl.export").changed(self.client, "opportunities", since, params, opts,
    "opportunities:changed_since")
end
resource.doc(Opportunities, "changed_since", {
  op = "opportunities.search-opportunity", each = true, pager = false,
  except = { "order", "page", "limit", "startAfter", "startAfterId", "date", "endDate" },
  doc = "The opportunities changed since a time (their `updatedAt`). GHL's opportunity search has no filter" ..
    " or order on `updatedAt`, so this reads every opportunity of the location (oldest first) and keeps the" ..
    " changed ones. `opts.field = \"createdAt\"` reads only those created since, and GHL filters them: the" ..
    " search's `date` (a day) and `startAfter` (epoch ms), in creation order. `ghl.export` keeps a state" ..
    " across runs.",
  params = {
    { "since", "string|number", "ISO 8601, epoch seconds or ms, or a duration back from now (`\"24h\"`)" },
    { "params", "table", "more of the search, by GHL's snake_case names", opt = true },
    { "opts", "table", "`field` (`\"updatedAt\"`, the default, or `\"createdAt\"`), `page_size` (at most 100)",
      opt = true },
  },
  example = "for opp in client.opportunities:changed_since(\"7d\", { status = \"open\" }) do\n" ..
    "  print(opp.id, opp.updatedAt)\nend",
})

return Opportunities
