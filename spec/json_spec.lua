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
end)
