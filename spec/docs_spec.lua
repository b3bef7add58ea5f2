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
end)
