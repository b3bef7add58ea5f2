-- The reference keeps up with the code: every option ghl.new accepts is
-- described in doc/options.md and in the README's table; every method of
-- every resource has an entry on its resource's page.
local read = require("spec.support.sys").slurp

describe("documentation", function()
  it("describes every option of ghl.new", function()
    local src = read("lua/ghl/options.lua")
    local schema = assert(src:match("local SCHEMA = (%b{})"), "SCHEMA not found in lua/ghl/options.lua")
    local names = {}
    for name in schema:gmatch("\n%s*([%a_]+)%s*=") do names[#names + 1] = name end
    assert.is_true(#names >= 15)
    local topic, readme = read("doc/options.md"), read("README.md")
    for _, name in ipairs(names) do
      assert.is_truthy(topic:find("`" .. name .. "`", 1, true), "doc/options.md does not describe " .. name)
      assert.is_truthy(readme:find("`" .. name .. "`", 1, true), "README.md does not describe " .. name)
    end
  end)

  it("counts the operations of each token type as the catalogue does (doc/tokens.md, README)", function()
    local n = {}
    for _, e in pairs(require("ghl").operations()) do n[e.t or ""] = (n[e.t or ""] or 0) + 1 end
    local topic, readme = read("doc/tokens.md"), read("README.md")
    local function has(text, what, count, name)
      assert.is_truthy(text:find(what, 1, true), ("%s: '%s' should say %d"):format(name, what, count))
    end
    for _, c in ipairs{
      { "| `L` |", n["L"] + (n["L Lo"] or 0), "(`L`, `L Lo`)" }, { "| `Lo` |", n["Lo"] }, { "| `A` |", n["A"] },
      { "| `Ao` |", n["Ao"] }, { "| `A L` |", n["A L"] }, { "| none |", n[""] },
    } do
      local row = topic:match(c[1]:gsub("%p", "%%%0") .. "[^\n]*")
      assert.is_truthy(row, c[1])
      assert.is_truthy(row:find("| " .. c[2] .. (c[3] and " " .. c[3] or ""), 1, true), row .. " should count " .. c[2])
    end
    has(readme, "(`L`, " .. (n["L"] + (n["L Lo"] or 0)) .. ")", 0, "README")
    has(readme, "(`A`, " .. n["A"] .. ")", n["A"], "README")
    has(readme, "(`A L`, " .. n["A L"] .. ";", n["A L"], "README")
    has(readme, "none declared (" .. n[""] .. ")", n[""], "README")
  end)

  describe("resource pages (tools/gen_docs.lua)", function()
    local ghl = require "ghl"
    local gen = assert(loadfile("tools/gen_docs.lua"))("--lib")

    -- every resource of a real client and every method a user can call on it
    local function surface()
      local client = ghl.new{ token = "pit-x", location_id = "L", base_url = "http://127.0.0.1:1" }
      local out = {}
      for name, v in pairs(client) do
        local class = type(name) == "string" and not name:find("^_") and type(v) == "table" and getmetatable(v)
        if type(class) == "table" and class.__index == class and type(class.new) == "function" then
          local methods = {}
          for k, f in pairs(class) do
            if type(k) == "string" and type(f) == "function" and k ~= "new" and not k:find("^_") then
              methods[#methods + 1] = k
            end
          end
          table.sort(methods)
          out[name] = methods
        end
      end
      return out
    end

    local function entries(text)
      local set = {}
      for m in text:gmatch("\n%-%- @function ([%w_]+)") do set[m] = true end
      return set
    end

    it("has an entry for every method of every resource on a client", function()
      local all = surface()
      local pages = gen.pages()
      local n = 0
      for name, methods in pairs(all) do
        local page = pages[name]
        assert.is_truthy(page, "no page for client." .. name)
        assert.is_truthy(page:find("\n%-%- @module client%." .. name .. "\n"), "the page of " .. name .. " names no module")
        local have = entries(page)
        for _, m in ipairs(methods) do
          assert.is_truthy(have[m], ("client.%s:%s has no entry in the generated docs"):format(name, m))
          n = n + 1
        end
      end
      for _, name in ipairs{ "contacts", "opportunities", "calendars", "workflows", "conversations", "locations",
                             "users" } do
        assert.is_truthy(all[name], "the client has no " .. name .. " resource")
      end
      assert.is_true(n >= 100, "only " .. n .. " methods found")
      -- hand-written ones in particular
      for _, m in ipairs{ "calendars:free_slots", "contacts:add_tags", "contacts:remove_tags", "contacts:complete_task",
                          "contacts:add_followers", "opportunities:update_status", "opportunities:remove_followers",
                          "conversations:update_message_status", "locations:get", "workflows:add_contact" } do
        local r, name = m:match("^(%w+):(.+)$")
        assert.is_truthy(entries(pages[r])[name], m)
      end
    end)

    it("gives each entry its request, parameters, what it returns and an example", function()
      for name, page in pairs(gen.pages()) do
        for entry in (page .. "\n\n"):gmatch("(%-%-%- .-)\n\n") do
          local m = entry:match("\n%-%- @function ([%w_]+)")
          if m then
            local where = ("client.%s:%s"):format(name, m)
            assert.is_truthy(entry:find("^%-%-%- [^\n]*%(`[A-Z]+ /[^`]*`%)%."), where .. ": the summary gives no `METHOD /path`")
            assert.is_truthy(entry:find("\n%-%- Operation `[%w%-]+%.[%w%-]+`, Version"), where .. ": no operation")
            assert.is_truthy(entry:find("\n%-%- @t?return"), where .. ": no @return")
            assert.is_truthy(entry:find("\n%-%- @usage\n%-%- [^\n]*client%." .. name .. ":" .. m .. "[%(%{]"), where ..
              ": no example calling it")
          end
        end
      end
    end)

    it("lists an operation's required parameters, and which the client fills in", function()
      local page = gen.pages().contacts
      local create = page:match("\n(%-%-%- Create a contact.-)\n\n")
      assert.is_truthy(create:find("@param[opt] fields.locationId required; default: the client's `location_id`", 1, true))
      local task = page:match("\n(%-%-%- Create a task.-)\n\n")
      for _, f in ipairs{ "title", "dueDate", "completed" } do
        assert.is_truthy(task:find("@param fields." .. f .. " required", 1, true), "create_task: " .. f)
      end
      local each = gen.pages().opportunities:match("\n(%-%-%- Every opportunity.-)\n\n")
      assert.is_truthy(each:find("params.max_items", 1, true))
      assert.is_truthy(each:find("params.startAfterId the cursor", 1, true))
    end)

    it("refuses a hand-written method without a record, and a record without a method", function()
      local resource = require "ghl.resource"
      local class = resource.define("docs_probe", { get = { op = "contacts.get-contact", args = { "contactId" } } })
      resource.about(class, "Probe.")
      class.extra = function() end
      local ok, err = pcall(gen.page, { name = "docs_probe", class = class })
      assert.is_false(ok)
      assert.matches("docs_probe:extra has no declaration", err, 1, true)
      resource.doc(class, "extra", { op = "contacts.get-contact", args = { "contactId" }, doc = "Extra." })
      assert.is_truthy(gen.page{ name = "docs_probe", class = class }:find("@function extra", 1, true))
      resource.doc(class, "gone", { op = "contacts.get-contact", doc = "Gone." })
      ok, err = pcall(gen.page, { name = "docs_probe", class = class })
      assert.is_false(ok)
      assert.matches("docs_probe:gone, which does not exist", err, 1, true)
    end)
  end)
end)
