-- The dry run of a bulk job: a file with 20 planted mistakes among good
-- rows; every bad row is reported at once (row, line, field, problem), the
-- good ones are not, and nothing reaches the server. In the library
-- (job:dry_run) and from the command line (--dry-run).
local h = require "spec.support.helpers"
local sys = require "spec.support.sys"
local ghl = require "ghl"

local LUA = jit and "luajit" or "lua5.4"
local q, read, write, sh = sys.q, sys.read, sys.write, sys.sh

local ID = "SeedC000000000000001"
local CF = "CfMock00000000000001"

-- the mistakes: the JSON line, the field named, a pattern of the problem
local MISTAKES = {
  { '{"contactId":"' .. ID .. '","firstNmae":"Ada"}', "firstNmae", "not a parameter.*did you mean firstName" },
  { '{"firstName":"No id"}', "contactId", "is required" },
  { '{"contactId":"' .. ID .. '","email":42}', "email", "must be an email address %(a string%), got the number 42" },
  { '{"contactId":"' .. ID .. '","email":"bob-at-example"}', "email", "is not an email address" },
  { '{"contactId":"' .. ID .. '","customFields":[{"id":"' .. CF .. '","field_value":1e999}]}',
    "customFields[1].field_value", "NaN or infinite" },
  { '{"contactId":"' .. ID .. '","tags":"vip"}', "tags", "must be a list of strings, got the string" },
  { '{"contactId":"' .. ID .. '","tags":["vip",5]}', "tags", "item 2 is the number 5" },
  { '{"contactId":"' .. ID .. '","dnd":"yes"}', "dnd", "must be true or false" },
  { '{"contactId":"' .. ID .. '","firstName":{"first":"Ada"}}', "firstName", "must be a string, got an object" },
  { '{"contactId":"' .. ID .. '",,"firstName":"Ada"}', nil, "not valid JSON" },
  { '[1,2,3]', nil, "must be a JSON object, got an array" },
  { '"just a string"', nil, "must be a JSON object, got string" },
  { '{"contactId":"","firstName":"Empty id"}', "contactId", "must be an id" },
  { '{"contactId":"..","firstName":"Dots"}', "contactId", "must be an id" },
  { '{"contactId":"' .. ID .. '","customFields":{"id":"' .. CF .. '"}}', "customFields", "must be a list" },
  { '{"contactId":"' .. ID .. '","customFields":[{"field_value":"v"}]}', "customFields", "names no custom field" },
  { '{"contactId":"' .. ID .. '","dndSettings":[1]}', "dndSettings", "must be an object" },
  { '{"contactId":"' .. ID .. '","city":"Z\255\254rich"}', "city", "not valid UTF%-8" },
  { '{"contactId":"' .. ID .. '","locationId":"LocMockA0000000000001"}', "locationId",
    "not a parameter of contacts.update%-contact" },
  { '{"firstName":5,"emial":"ada@example.com"}', "contactId", "is required" }, -- and two more problems
}

describe("the dry run of a bulk job", function()
  local srv = h.server()
  local dir, path, bad_rows
  setup(function()
    srv.start()
    dir = h.private_dir()
    -- 45 rows: the 20 mistakes spread among good ones, a blank line and a CRLF line too
    local lines, row = {}, 0
    bad_rows = {}
    local m = 0
    for i = 1, 45 do
      if i % 2 == 0 and m < #MISTAKES then
        m = m + 1
        lines[#lines + 1] = MISTAKES[m][1]
        row = row + 1
        bad_rows[row] = MISTAKES[m]
      else
        lines[#lines + 1] = ('{"contactId":"SeedC%015d","firstName":"Good %d","tags":["ok"],"dnd":false}'):format(i, i)
        row = row + 1
      end
      if i == 10 then lines[#lines + 1] = "" end -- a blank line: no row
    end
    path = dir .. "/rows.jsonl"
    write(path, table.concat(lines, "\n") .. "\r\n")
  end)
  teardown(function()
    srv.stop()
    sh("rm -rf " .. q(dir))
  end)
  before_each(srv.reset)

  it("reports every one of 20 planted mistakes at once, and sends nothing", function()
    local job = ghl.job{ client = h.client(srv), rows = path, op = "update" }
    local check = assert(job:dry_run())
    assert.is_false(check.ok)
    assert.are.equal(45, check.rows)
    assert.are.equal(20, check.bad)
    local by_row = {}
    for _, p in ipairs(check.problems) do
      by_row[p.row] = by_row[p.row] or {}
      table.insert(by_row[p.row], p)
    end
    local n = 0
    for row, mistake in pairs(bad_rows) do
      n = n + 1
      local got = by_row[row]
      assert.is_truthy(got, ("row %d (%s) is not reported"):format(row, mistake[1]))
      local hit = false
      for _, p in ipairs(got) do
        if p.field == mistake[2] and p.problem:find(mistake[3]) then hit = true end
      end
      assert.is_true(hit, ("row %d: expected %s %s, got %s"):format(row, tostring(mistake[2]), mistake[3],
        require("cjson").encode(got)))
      assert.is_true(got[1].line >= row)
    end
    assert.are.equal(20, n)
    for row in pairs(by_row) do assert.is_truthy(bad_rows[row], "a good row is reported: " .. row) end
    -- the last mistake has three problems, all of them reported
    local last = by_row[40]
    assert.are.equal(3, #last)
    -- the lines are the file's: the blank line after line 10 shifts them
    assert.are.equal(2, by_row[2][1].line)
    assert.are.equal(13, by_row[12][1].line)
    assert.are.same({}, h.requests(srv))
  end)

  it("from the command line: every problem on stdout, exit 1, nothing sent", function()
    local out, err = dir .. "/out", dir .. "/err"
    local code = tonumber(sys.capture(("env -u GHL_PACING_REDIS GHL_BASE_URL=%s GHL_TOKEN=%s GHL_LOCATION_ID=%s %s "
      .. "bin/ghl run update %s --dry-run >%s 2>%s; echo $?"):format(q(srv.url), q(srv.token), q(srv.location_id), LUA,
      q(path), q(out), q(err))):match("(%d+)%s*$"))
    assert.are.equal(1, code)
    local text = read(out)
    local rows = {}
    for row in text:gmatch("row (%d+) %(line %d+%)") do rows[tonumber(row)] = true end
    local n = 0
    for row in pairs(bad_rows) do
      assert.is_truthy(rows[row], "row " .. row .. " is not on stdout")
      n = n + 1
    end
    assert.are.equal(20, n)
    assert.matches("row 2 %(line 2%): firstNmae: is not a parameter of contacts.update%-contact; did you mean firstName%?",
      text)
    assert.matches("45 rows, 20 with problems %(22 problems%); no row was sent", read(err))
    assert.are.same({}, h.requests(srv))
  end)
end)
