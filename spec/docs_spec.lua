-- The reference's topics keep up with the code: every option ghl.new accepts
-- is described in doc/options.md and in the README's table.
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
end)
