-- The reference keeps up with the code: every option ghl.new accepts is
-- described in doc/options.md, the README's table and ghl.new's own page;
-- every method of every resource has an entry on its resource's page; every
-- module is in config.ld once.
local sys = require "spec.support.sys"
local read = sys.slurp

-- the names of ghl.new's options, from lua/ghl/options.lua
local function schema()
  local src = read("lua/ghl/options.lua")
  local block = assert(src:match("local SCHEMA = (%b{})"), "SCHEMA not found in lua/ghl/options.lua")
  local names, set = {}, {}
  for name in block:gmatch("\n%s*([%a_]+)%s*=") do
    names[#names + 1] = name
    set[name] = true
  end
  return names, set
end

-- The README's table of options: option (first column) -> its default cell,
-- and the set of every `name` the section mentions.
local function readme_options()
  local readme = read("README.md")
  local section = assert(readme:match("\n### Options of `ghl%.new`\n(.-)\n##"), "README: no section 'Options of `ghl.new`'")
  local rows, mentioned = {}, {}
  for n in section:gmatch("`([%w_]+)`") do mentioned[n] = true end
  for line in section:gmatch("[^\n]+") do
    local first, second = line:match("^|%s*([^|]*`[^|]*)|%s*([^|]*)|")
    if first then
      local names, defaults = {}, {}
      for n in first:gmatch("`([^`]+)`") do names[#names + 1] = n end
      for d in (second .. " / "):gmatch("(.-)%s*/%s+") do defaults[#defaults + 1] = d end
      for i, n in ipairs(names) do
        rows[n] = #defaults == #names and defaults[i] or second
      end
    end
  end
  return rows, mentioned
end

-- ghl.new's doc comment in lua/ghl.lua: option name -> { default = ... }
local function new_doc()
  local src = read("lua/ghl.lua")
  local block = assert(src:match("\n(%-%-%- Make a client.-)\nfunction ghl%.new%("), "no doc comment on ghl.new")
  local opts = {}
  for line in block:gmatch("[^\n]+") do
    local mods, rest = line:match("^%-%- @%a*param%[([^%]]*)%]%s+(.*)$")
    local name = rest and rest:match("^%S*%s*opts%.([%w_]+)") or rest and rest:match("^opts%.([%w_]+)")
    if name then opts[name] = { default = mods:match("^opt=(.*)$") } end
  end
  return opts, block
end

describe("documentation", function()
  it("describes every option of ghl.new (doc/options.md, README, ghl.new's page)", function()
    local names, known = schema()
    assert.is_true(#names >= 15)
    local topic = read("doc/options.md")
    local rows, mentioned = readme_options()
    local doc = new_doc()
    for _, name in ipairs(names) do
      assert.is_truthy(topic:find("`" .. name .. "`", 1, true), "doc/options.md does not describe " .. name)
      assert.is_truthy(mentioned[name], "README's 'Options of `ghl.new`' does not describe " .. name)
      assert.is_truthy(doc[name], "ghl.new's doc comment (lua/ghl.lua) has no @tparam opts." .. name)
    end
    for name in pairs(rows) do
      assert.is_truthy(known[name], "README's options table lists " .. name .. ", which lua/ghl/options.lua does not take")
    end
    for name in pairs(doc) do
      assert.is_truthy(known[name], "ghl.new's doc comment lists opts." .. name .. ", which lua/ghl/options.lua does not take")
    end
    -- the defaults the README gives as a number, true/false or a `value` are those of the page
    local checked = 0
    for name, cell in pairs(rows) do
      local want = cell:match("^(%d+)$") or cell:match("^`([^`]+)`$")
      if want then
        want = want:gsub('^"(.*)"$', "%1")
        local got = doc[name].default and doc[name].default:gsub('^"(.*)"$', "%1")
        assert.are.equal(want, got, ("default of %s: README says %s, ghl.new's doc %s"):format(name, want,
          tostring(got)))
        checked = checked + 1
      end
    end
    assert.is_true(checked >= 10, "only " .. checked .. " defaults compared")
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

  it("lists every module in config.ld once, public ones first", function()
    local config = read("config.ld")
    local list = assert(config:match("\nfile = (%b{})"), "config.ld: no file = { ... }")
    local entries = {}
    for s in list:gmatch('"([^"]+)"') do entries[#entries + 1] = s end
    local files = sys.capture("find lua/ghl.lua lua/ghl csrc -name '*.lua' -o -name '*.c' | sort")
    local covered = 0
    for f in files:gmatch("[^\n]+") do
      local skip = f:find("^lua/ghl/cli") or f == "lua/ghl/catalog.lua" or f:find("^lua/ghl/resources/")
        or (f:find("%.c$") and not read(f):find("/%*%*%*"))
      if not skip then
        local n = 0
        for _, e in ipairs(entries) do
          if e == f or f:sub(1, #e + 1) == e .. "/" then n = n + 1 end
        end
        assert.are.equal(1, n, f .. " is in config.ld's file list " .. n .. " times")
        covered = covered + 1
      end
      local src = read(f)
      if f:find("%.lua$") and not skip and f ~= "lua/ghl.lua" then
        local public = f == "lua/ghl/oauth.lua" or f == "lua/ghl/store.lua" or f:find("^lua/ghl/store/")
          or f == "lua/ghl/webhook.lua" or f == "lua/ghl/client.lua" or f == "lua/ghl/export.lua"
          or f == "lua/ghl/job.lua"
        assert.are.equal(not public, src:find("\n%-%- @internal ghl%.") ~= nil,
          f .. (public and " is public: no @internal" or " is internal: its header needs @internal ghl.<name>"))
      end
    end
    assert.is_true(covered >= 25)
    assert.are.equal("lua/ghl.lua", entries[1])
  end)

  it("builds with LDoc: a page with an anchor for every method and every option (when ldoc is installed) #docs", function()
    if not sys.sh("command -v ldoc >/dev/null 2>&1") then
      pending("ldoc is not installed (make docs installs lua-ldoc)")
      return
    end
    local gen = assert(loadfile("tools/gen_docs.lua"))("--lib")
    assert.is_true(gen.write("build/docs-src") >= 7)
    local out = os.tmpname()
    os.remove(out)
    assert.is_true(sys.sh("mkdir -p " .. sys.q(out .. "/doc")))
    local log = sys.capture("ldoc -c config.ld -d " .. sys.q(out) .. " . 2>&1")
    assert.is_falsy(log:find("%.lua:%d+:"), "LDoc warned:\n" .. log)
    local index = sys.read(out .. "/index.html")
    assert.is_truthy(index, "no index.html:\n" .. log)
    local function pos(s) return (assert(index:find(s, 1, true), "the index does not list " .. s)) end
    assert.is_true(pos('"modules/ghl.html"') < pos('"modules/client.contacts.html"'))
    assert.is_true(pos('"modules/client.contacts.html"') < pos('"internal/ghl.driver.html"'))
    local ghl_page = assert(sys.read(out .. "/modules/ghl.html"))
    for _, name in ipairs((schema())) do
      assert.is_truthy(ghl_page:find('<span class="parameter">' .. name .. "</span>", 1, true), "ghl.new's page: " .. name)
    end
    for name, page in pairs(gen.pages()) do
      local html = assert(sys.read(("%s/modules/client.%s.html"):format(out, name)), "no page for client." .. name)
      for m in page:gmatch("\n%-%- @function ([%w_]+)") do
        assert.is_truthy(html:find('<a name = "' .. m .. '"></a>', 1, true), ("client.%s:%s has no anchor"):format(name, m))
      end
    end
    sys.sh("rm -rf " .. sys.q(out))
  end)
end)
