-- `ghl import contacts` and `ghl run OPERATION FILE`: bulk jobs with a
-- journal from the command line, against the local GHL server, run as a
-- subprocess with the interpreter of this suite.
local h = require "spec.support.helpers"
local sys = require "spec.support.sys"
local cjson = require "cjson"
local core = require "ghl.core"

local ghl_cli = require "spec.support.ghl_cli"
local q, read, write, sh, capture = sys.q, sys.read, sys.write, sys.sh, sys.capture

describe("ghl import / ghl run #subprocess", function()
  local srv = h.server()
  local dir
  setup(function()
    srv.start()
    dir = h.private_dir()
  end)
  teardown(function()
    srv.stop()
    sh("rm -rf " .. q(dir))
  end)
  before_each(function()
    srv.reset()
    h.rate_limit(srv, { max = 1000000, interval_ms = 100 })
  end)

  -- exit code, stdout, stderr
  local function run(args) return ghl_cli.run(srv, dir, args) end
  local function command(args) return ghl_cli.command(ghl_cli.env(srv, dir), args) end

  local function csv(name, text)
    local path = dir .. "/" .. name
    write(path, text)
    os.remove(path .. ".journal")
    return path
  end

  local function people(name, n, first)
    local lines = { "First Name,Last Name,Email,Tags" }
    for i = first or 1, (first or 1) + n - 1 do
      lines[#lines + 1] = ("Cli%d,Import,cli%d@import.example.com,\"new,cli\""):format(i, i)
    end
    return csv(name, table.concat(lines, "\n") .. "\n")
  end

  local function contacts() return h.admin(srv, "GET", "/_mock/contacts").count end

  it("imports a CSV, and the same command again sends nothing (the journal)", function()
    local file = people("a.csv", 12)
    local before = contacts()
    local code, out, err = run{ "import", "contacts", file }
    assert.are.equal(0, code, err)
    local report = cjson.decode(out)
    assert.are.same({ 12, 12, 0, 0, 12 }, { report.rows, report.done, report.failed, report.ambiguous, report.sent })
    assert.are.equal(file .. ".journal", report.journal)
    assert.matches("import contacts: 12 rows: 12 done, 0 failed, 0 ambiguous; 12 requests sent in", err)
    assert.matches("journal " .. file:gsub("%p", "%%%0") .. "%.journal: the same command resumes from it", err)
    assert.are.equal(before + 12, contacts())
    code, out = run{ "import", "contacts", file }
    assert.are.equal(0, code)
    report = cjson.decode(out)
    assert.are.same({ 12, 0, 12 }, { report.done, report.sent, report.skipped })
    assert.are.equal(before + 12, contacts())
  end)

  it("writes the rows not done, with why, to a file that can be fixed and imported", function()
    local file = csv("b.csv", "First Name,Email,Tags\nGood,good@import.example.com,x\nBad,not-an-email,y\n"
      .. "Refused,refused@import.example.com,z\n")
    h.fault(srv, "POST", "/contacts/", "status=422", 1)
    local code, out, err = run{ "import", "contacts", file, "--concurrency", "1" }
    assert.are.equal(1, code, err)
    local report = cjson.decode(out)
    assert.are.same({ 1, 2 }, { report.done, report.failed })
    local failed = dir .. "/b.failed.csv"
    assert.are.equal(failed, report.failed_rows)
    assert.matches("the 2 rows not done and why: " .. failed:gsub("%p", "%%%0"), err)
    local text = read(failed)
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("First Name,Email,Tags,_row,_error", lines[1])
    assert.matches('^Good,good@import.example.com,x,1,"?failed: http 422', lines[2])
    assert.matches('^Bad,not%-an%-email,y,2,"invalid: email is not an email address', lines[3])
    assert.are.equal(3, #lines)
    assert.are.equal("600", capture("stat -c %a " .. q(failed)):gsub("%s+", ""))
    -- fixed, and imported on its own (its _row and _error columns are not sent)
    write(failed, text:gsub("not%-an%-email", "fixed@import.example.com"))
    code, out, err = run{ "import", "contacts", failed }
    assert.are.equal(0, code, err)
    assert.are.equal(2, cjson.decode(out).done)
    local found = assert(h.client(srv).contacts:search{ query = "fixed@import.example.com" })[1]
    assert.are.equal("Bad", found.firstName)
    assert.is_nil(found._error)
    assert.is_nil(read(dir .. "/b.failed.failed.csv"))
  end)

  it("--upsert updates the contacts that exist; --map maps columns, custom fields by name", function()
    local file = csv("c.csv", "Mail,Given,Lead Score,Notes\nseed0001@seed.example.com,Updated,77,x\n"
      .. "brand-new@import.example.com,New,5,y\n")
    local before = contacts()
    local code, out, err = run{ "import", "contacts", file, "--upsert",
                                "--map", "Mail=email,Given=firstName", "--map", "Lead Score=customField,Notes=-" }
    assert.are.equal(0, code, err)
    assert.are.equal(2, cjson.decode(out).done)
    assert.are.equal(before + 1, contacts())
    local c = assert(h.client(srv).contacts:get("SeedC000000000000001"))
    assert.are.equal("Updated", c.firstName)
    local score
    for _, f in ipairs(c.customFields) do
      if f.id == "CfMock00000000000001" then score = f.field_value end
    end
    assert.are.equal(77, score)
  end)

  it("runs any operation: ghl run OPERATION FILE name=value (the same for every row)", function()
    local file = csv("tags.csv", "id\nSeedC000000000000002\nSeedC000000000000003\n")
    local code, out, err = run{ "run", "contacts.add-tags", file, "tags=vip,bulk" }
    assert.are.equal(0, code, err)
    assert.are.equal(2, cjson.decode(out).done)
    local c = assert(h.client(srv).contacts:get("SeedC000000000000003"))
    local have = {}
    for _, t in ipairs(c.tags) do have[t] = true end
    assert.is_true(have.vip and have.bulk)
    -- JSON Lines, an alias, and a failed row's line fed back in
    local jl = dir .. "/u.jsonl"
    write(jl, '{"contactId":"SeedC000000000000004","firstName":"Jay"}\n{"contactId":"nope","firstName":"X"}\n')
    code, out, err = run{ "run", "update", jl }
    assert.are.equal(1, code, err)
    assert.are.same({ 1, 1 }, { cjson.decode(out).done, cjson.decode(out).failed })
    local failed = read(dir .. "/u.failed.jsonl")
    local row = cjson.decode(failed:match("[^\n]+"))
    assert.are.equal(2, row._row)
    assert.matches("^failed: http 404", row._error)
    write(dir .. "/u2.jsonl", failed:gsub('"nope"', '"SeedC000000000000005"'))
    code = run{ "run", "update", dir .. "/u2.jsonl" }
    assert.are.equal(0, code)
    assert.are.equal("X", assert(h.client(srv).contacts:get("SeedC000000000000005")).firstName)
  end)

  it("exits 2 on a usage error, before anything is sent", function()
    local file = people("d.csv", 2)
    local cases = {
      { { "import", "contacts", file, "--bogus" }, "unknown option %-%-bogus" },
      { { "import", "opportunities", file }, "only contacts can be imported" },
      { { "import", "contacts" }, "needs a file" },
      { { "import", "contacts", dir .. "/missing.csv" }, "cannot read" },
      { { "import", "contacts", file, "--map", "nofield" }, "%-%-map takes column=field pairs" },
      { { "import", "contacts", file, "--concurrency", "0" }, "%-%-concurrency must be a whole number" },
      { { "import", "contacts", file, "--map", "Tags=tag" }, "maps to 'tag', which is not a parameter.*did you mean tags" },
      { { "import", "contacts", dir .. "/x.txt" }, "cannot tell the format" },
      { { "run", "contacts.add-tagz", file }, "unknown operation 'contacts.add%-tagz'" },
      { { "run" }, "run needs an operation and a file" },
    }
    write(dir .. "/x.txt", "a\n")
    for _, c in ipairs(cases) do
      local code, _, err = run(c[1])
      assert.are.equal(2, code, table.concat(c[1], " ") .. ": " .. err)
      assert.matches(c[2], err)
    end
    assert.are.same({}, h.requests(srv))
    local code, out = run{ "help" }
    assert.are.equal(0, code)
    assert.matches("import contacts FILE", out)
    assert.matches("run OPERATION FILE", out)
  end)

  it("refuses a journal another runner has open (exit 1)", function()
    local file = people("e.csv", 2)
    local ap = assert(core.appender(file .. ".journal"))
    local code, _, err = run{ "import", "contacts", file }
    ap:close()
    assert.are.equal(1, code)
    assert.matches("in use by another runner", err)
    assert.matches("another `ghl import` or `ghl run` has this journal open", err)
  end)

  it("draws a progress bar on a terminal, and says when GHL's rate limit holds it back", function()
    if capture("command -v script 2>/dev/null") == "" then
      pending("script (util-linux) is not installed")
      return
    end
    h.rate_limit(srv, { max = 10, interval_ms = 1000 })
    local file = people("f.csv", 30)
    local cmd = "stty -onlcr; " .. command{ "import", "contacts", file } .. " >" .. q(dir .. "/report")
    local screen = capture(("SHELL=/bin/sh script -qec %s /dev/null </dev/null; echo EXIT=$?"):format(q(cmd)))
    assert.matches("EXIT=0", screen)
    assert.matches("%[#+%-*%] %d+/30  done %d+  failed 0  ambiguous 0", screen)
    assert.matches("held back by GHL's rate limit %(10 per 1s%)", screen)
    assert.matches("ETA", screen)
    assert.are.equal(30, cjson.decode(read(dir .. "/report")).done)
  end)
end)
