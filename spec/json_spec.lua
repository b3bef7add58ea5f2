-- The C core's JSON decoder (the hot path of every response).
local core = require "ghl.core"

describe("json decoder", function()
  it("decodes objects, arrays, strings, numbers, booleans and null", function()
    local v = core.json_decode('{"a":[1,-2.5e3,"x",true,false,null],"b":{"c":"d"},"e":{},"f":[]}')
    assert.are.equal(1, v.a[1])
    assert.are.equal(-2500, v.a[2])
    assert.are.equal("x", v.a[3])
    assert.is_true(v.a[4])
    assert.is_false(v.a[5])
    assert.are.equal(core.null, v.a[6])
    assert.are.equal("d", v.b.c)
    assert.are.same({}, v.e)
    assert.are.same({}, v.f)
  end)

  it("keeps integers integers where Lua has them", function()
    local v = core.json_decode('{"statusCode":404,"big":12345678901234,"f":1.5}')
    assert.are.equal("404", tostring(v.statusCode))
    assert.are.equal(12345678901234, v.big)
    assert.are.equal(1.5, v.f)
  end)

  it("decodes escapes, including surrogate pairs", function()
    local v = core.json_decode([["a\"b\\c\/d\n\t\u00e9\ud83d\ude00"]])
    assert.are.equal('a"b\\c/d\n\té😀', v)
  end)

  it("refuses what is not JSON, saying where", function()
    for _, bad in ipairs{ "", "{", "[1,]", '{"a" 1}', '"unterminated', "tru", "01", "1.", "-",
                          '"\\x"', '"\\ud800"', "[1] 2", '{"a":1,}', "\"a\tb\"" } do
      local v, err = core.json_decode(bad)
      assert.is_nil(v, bad)
      assert.matches("at byte %d+", err, nil, false, bad)
    end
  end)

  it("refuses nesting deeper than 1000", function()
    local v, err = core.json_decode(("["):rep(1001) .. ("]"):rep(1001))
    assert.is_nil(v)
    assert.matches("too deep", err)
    assert.is_table(core.json_decode(("["):rep(900) .. ("]"):rep(900)))
  end)

  -- members wait on the Lua stack and are moved into their table in chunks
  it("decodes objects and arrays longer than one chunk, keeping the last of a repeated key", function()
    local members, items = {}, {}
    for i = 1, 300 do
      members[#members + 1] = ('"k%d":%d'):format(i, i)
      items[i] = tostring(i * 2)
    end
    members[#members + 1] = '"k1":"again"'   -- across chunks: the last value wins
    members[#members + 1] = '"k300":"again"' -- within the last chunk
    local v = core.json_decode("{" .. table.concat(members, ",") .. "}")
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    assert.are.equal(300, n)
    assert.are.equal("again", v.k1)
    assert.are.equal(2, v.k2)
    assert.are.equal(299, v.k299)
    assert.are.equal("again", v.k300)
    local a = core.json_decode("[" .. table.concat(items, ",") .. "]")
    assert.are.equal(300, #a)
    for i = 1, 300 do assert.are.equal(i * 2, a[i]) end
    assert.are.same({ b = 2 }, core.json_decode('{"b":1,"b":2}'))
  end)

  it("nests wide containers deeply without running out of stack", function()
    local wide = {}
    for i = 1, 60 do wide[i] = ('"w%d":%d'):format(i, i) end
    local open = "{" .. table.concat(wide, ",") .. ',"in":'
    local text = open:rep(900) .. "[" .. ("1,"):rep(60) .. "[]]" .. ("}"):rep(900)
    local v = assert(core.json_decode(text))
    for _ = 1, 900 do
      assert.are.equal(60, v.w60)
      v = v["in"]
    end
    assert.are.equal(61, #v)
    local a = assert(core.json_decode(("[" .. ("1,"):rep(60)):rep(900) .. "[]" .. ("]"):rep(900)))
    for _ = 1, 900 do
      assert.are.equal(61, #a)
      a = a[61]
    end
    assert.are.same({}, a)
  end)

  it("finds quotes, escapes and control characters at every offset of a word", function()
    for pad = 0, 17 do
      local s = ("x"):rep(pad)
      assert.are.equal(s, core.json_decode('"' .. s .. '"'))
      assert.are.equal(s .. '"' .. s, core.json_decode('"' .. s .. '\\"' .. s .. '"'))
      assert.are.equal(s .. "\\" .. s, core.json_decode('"' .. s .. '\\\\' .. s .. '"'))
      assert.are.equal(s .. "é\127" .. s, core.json_decode('"' .. s .. "é\127" .. s .. '"'))
      local v, err = core.json_decode('"' .. s .. "\\q" .. s .. '"')
      assert.is_nil(v)
      assert.matches("bad escape", err)
      for _, ctl in ipairs{ "\0", "\1", "\31" } do
        v, err = core.json_decode('"' .. s .. ctl .. s .. '"')
        assert.is_nil(v)
        assert.matches("control character", err)
      end
      assert.is_nil((core.json_decode('"' .. s)))
    end
  end)
end)
