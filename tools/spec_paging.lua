--- Which operations of GHL's specs page, in which style, and where their
-- items are: the rules tools/gen_catalog.lua applies to every operation
-- (from the specs' parameters, their descriptions and the answer schemas;
-- where those are silent or wrong, OVERRIDES says what GHL does and why).
--
-- An operation pages when it takes a cursor parameter (RULES). Each one
-- gets a style (csrc/pager_styles.c) or an entry in EXCLUDED / NOT_PAGED
-- with the reason; one that fits no rule fails the build, so a new GHL
-- endpoint cannot slip through unpaged.
local M = {}

-- The first rule whose parameters the operation has names its style and
-- its cursor parameter.
local RULES = {
  { pg = "keyset", needs = { "startAfterId", "startAfter" }, cursor = "startAfterId" },
  { pg = "last_id", needs = { "lastMessageId" }, cursor = "lastMessageId" },
  { pg = "last_id", needs = { "lastFaqId" }, cursor = "lastFaqId" },
  { pg = "last_id", needs = { "lastKnowledgeBaseId" }, cursor = "lastKnowledgeBaseId" },
  { pg = "start_after_date", needs = { "startAfterDate" }, cursor = "startAfterDate" },
  { pg = "cursor", needs = { "cursor" }, cursor = "cursor" },
  { pg = "search_after", needs = { "searchAfter" }, cursor = "searchAfter" },
  -- "Start after is the agent id to start after"
  { pg = "after_item", needs = { "startAfter" }, cursor = "startAfter" },
  -- "Id for last document till what you want to skip"
  { pg = "after_item", needs = { "lastDoc" }, cursor = "lastDoc" },
  { pg = "skip_limit", needs = { "skip" }, cursor = "skip" },
  { pg = "limit_offset", needs = { "offset" }, cursor = "offset" },
  { pg = "page", needs = { "page" }, cursor = "page" },
}

-- page-size parameters, in the order they are looked for
local SIZES = { "limit", "pageLimit", "pageSize", "pageLength" }

-- cursor parameters no rule reads: an operation with one must be excluded
local OTHER_CURSORS = { next = true }

M.CURSORS = {}
local STYLE_CURSOR = {} -- the cursor parameter of each style, when the catalogue names none
for _, r in ipairs(RULES) do
  for _, n in ipairs(r.needs) do M.CURSORS[n] = true end
  STYLE_CURSOR[r.pg] = STYLE_CURSOR[r.pg] or r.cursor
end
for n in pairs(OTHER_CURSORS) do M.CURSORS[n] = true end

--- Operations with a paging parameter that each_of does not walk, and why
-- (the catalogue's header lists them).
local NEXT_TOKEN = "pages with a `next` token, but the spec gives no answer schema and GHL documents none: where "
  .. "the next token and the items are is unknown; fetchAll=true returns them all at once"
M.EXCLUDED = {
  ["ad-manager.fb-get-ad-accounts"] = NEXT_TOKEN,
  ["ad-manager.fb-get-entity"] = NEXT_TOKEN,
}

--- A paging-like parameter that is not a cursor.
M.NOT_PAGED = {}
for _, net in ipairs{ "google", "facebook", "instagram", "linkedin", "twitter", "tiktok", "tiktok-business" } do
  M.NOT_PAGED["social-media-posting.start-" .. net .. "-oauth"] =
    "`page` names the page to return to after the OAuth consent, not a page of results"
end

--- Facts the parameters do not show; each entry says why.
M.OVERRIDES = {
  -- the spec's body schema is empty; GHL documents pageLimit, page, searchAfter
  -- (from the last contact), and page reaches only the first 10,000
  ["contacts.search-contacts-advanced"] = { pg = "search_after", pin = "body", it = "contacts", lk = "pageLimit" },
  -- the spec does not say where the next searchAfter comes from (its
  -- opportunities carry none): pages by number
  ["opportunities.search-opportunities-advanced"] = { pg = "page" },
  -- the spec gives no answer schema: that of its deprecated twin, the
  -- same operation ("Fetch all SaaS-activated locations ... with pagination")
  ["saas-api.get-saas-locations"] = { it = "locations" },
}

--- Where the items are when the answer's schema does not say it alone.
M.ITEMS = {
  -- `total` is an array too in the spec (of objects); the list is `products`
  ["products.list-invoices"] = "products",
  -- `total` is an array of strings in the spec; the list is `schedules`
  ["emails.fetch-campaigns"] = "schedules",
  -- the spec's `data` is an object without properties; GHL's answer nests the list in it
  ["funnels.fetch-redirects-list"] = "data.data",
  -- the spec types `csvs` one CSV import ("CSV Data", next to a count): the list
  ["social-media-posting.get-upload-status"] = "results.csvs",
  -- The spec's answer is one object (one item's fields), not a list: the
  -- items are found at run time, as the page itself when it is an array or
  -- its one non-empty array field ("*"), which fails loudly when ambiguous.
  ["associations.find-associations"] = "*",
  ["associations.get-relations-by-record-id"] = "*",
  ["emails.fetch-template"] = "*",
  ["funnels.getFunnels"] = "*",
  ["funnels.getPagesByFunnelId"] = "*",
  ["payments.list-integration-providers"] = "*",
}

-- The paths of the arrays in an answer schema (the schema itself: "[]";
-- through objects and allOf, two levels deep).
function M.array_paths(S, doc_path, schema)
  local found = {}
  local function walk(node, dp, prefix, depth)
    node, dp = S.deref(dp, node)
    if type(node) ~= "table" then return end
    if node.type == "array" or node.items then
      if prefix == "" then found[#found + 1] = "[]" else found[#found + 1] = prefix end
      return
    end
    for _, sub in ipairs(node.allOf or {}) do walk(sub, dp, prefix, depth) end
    if depth >= 2 then return end
    for name, p in pairs(node.properties or {}) do
      walk(p, dp, prefix == "" and name or (prefix .. "." .. name), depth + 1)
    end
  end
  walk(schema, doc_path, "", 0)
  table.sort(found)
  return found
end

--- The scalar fields of an answer schema outside its items, as path ->
-- type, two levels deep (what the local server fills in: totals, flags,
-- cursors).
function M.page_fields(S, doc_path, schema, items)
  local out = {}
  local function walk(node, dp, prefix, depth)
    node, dp = S.deref(dp, node)
    if type(node) ~= "table" or depth > 2 or prefix == items then return end
    for _, sub in ipairs(node.allOf or {}) do walk(sub, dp, prefix, depth) end
    for name, p in pairs(node.properties or {}) do
      local path = prefix == "" and name or (prefix .. "." .. name)
      local pd = S.deref(dp, p)
      if type(pd) == "table" and (pd.properties or pd.allOf) then
        walk(p, dp, path, depth + 1)
      elseif type(pd) == "table" and pd.type and pd.type ~= "array" and pd.type ~= "object" then
        out[path] = pd.type
      end
    end
  end
  walk(schema, doc_path, "", 0)
  return out
end

--- How `key` pages. `params`: name -> { where = "query"|"body", type =, default = }
-- of its query parameters and JSON body fields; `answer`: its 2xx JSON schema
-- (or nil). Returns the catalogue's paging fields { pg, pin, it, lk, ck, ct, p0 },
-- or nil and a reason it does not page ("excluded: ..." when it pages but is
-- left out), or raises when it pages in a way no rule knows.
function M.classify(S, doc_path, key, params, answer)
  if M.NOT_PAGED[key] then return nil, M.NOT_PAGED[key] end
  if M.EXCLUDED[key] then return nil, "excluded: " .. M.EXCLUDED[key] end
  local over = M.OVERRIDES[key] or {}
  local cursors = {}
  for name in pairs(params) do
    if M.CURSORS[name] then cursors[#cursors + 1] = name end
  end
  if #cursors == 0 and not over.pg then return nil, "no cursor parameter" end
  local rule
  for _, r in ipairs(RULES) do
    local all = true
    for _, n in ipairs(r.needs) do all = all and params[n] ~= nil end
    if all and (not over.pg or over.pg == r.pg) then rule = r break end
  end
  if not rule and over.pg then rule = { pg = over.pg } end
  if not rule then
    table.sort(cursors)
    error(("%s pages with %s, which no paging rule of tools/spec_paging.lua reads: add a rule, or list it in "
      .. "EXCLUDED with the reason"):format(key, table.concat(cursors, ", ")), 0)
  end
  local e = { pg = rule.pg, ck = rule.cursor or STYLE_CURSOR[rule.pg] }
  local cursor = params[e.ck]
  e.pin = over.pin or (cursor and cursor.where) or "query"
  for _, n in ipairs(SIZES) do
    if params[n] then e.lk = n ~= "limit" and n or nil break end
  end
  e.lk = over.lk or e.lk
  if cursor and cursor.type == "string" and (e.pg == "skip_limit" or e.pg == "limit_offset" or e.pg == "page") then
    e.ct = "s" -- "20", not 20: a body field typed string must get a string
  end
  if e.pg == "page" and cursor and type(cursor.default) == "number" and cursor.default ~= 1 then
    e.p0 = cursor.default
  end
  e.it = over.it or M.ITEMS[key]
  if not e.it then
    local arrays = answer and M.array_paths(S, doc_path, answer) or {}
    if #arrays ~= 1 then
      error(("%s pages, but its answer has %s: name its items in ITEMS of tools/spec_paging.lua, with the reason")
        :format(key, #arrays == 0 and "no array" or ("several arrays (" .. table.concat(arrays, ", ") .. ")")), 0)
    end
    e.it = arrays[1]
  end
  return e
end

return M
