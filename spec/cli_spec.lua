-- The ghl command line (bin/ghl) end to end against the local GHL server,
-- run as a subprocess with the interpreter of this suite; and its helpers
-- (JSON and CSV output, the progress line) in-process.
local h = require "spec.support.helpers"
local server = require "spec.support.server"
local cjson = require "cjson"
local socket = require "socket"

local ghl_cli = require "spec.support.ghl_cli"

local LUA, CLEAN, command = ghl_cli.LUA, ghl_cli.CLEAN, ghl_cli.command

local sys = require "spec.support.sys"
local q, read, write, sh, capture = sys.q, sys.read, sys.write, sys.sh, sys.capture

local function mktemp_dir()
  return (capture("mktemp -d /tmp/ghl-cli-spec.XXXXXX"):gsub("%s+$", ""))
end

local function count(s, pattern)
  local n = 0
  for _ in s:gmatch(pattern) do n = n + 1 end
  return n
end

-- Where s holds a control character a terminal would obey (C0 but LF and
-- TAB, DEL, C1 as UTF-8), or nil.
local function control_in(s)
  for i = 1, #s do
    local b = s:byte(i)
    if (b < 32 and b ~= 10 and b ~= 9) or b == 127 then return i end
    if b == 194 then
      local n = s:byte(i + 1)
      if n and n >= 128 and n <= 159 then return i end
    end
  end
  return nil
end

describe("ghl command line", function()
  local srv = h.server()
  local tmp
  setup(function()
    srv.start()
    tmp = mktemp_dir()
  end)
  teardown(function()
    srv.stop()
    if tmp then sh("rm -rf " .. q(tmp)) end
  end)
  before_each(srv.reset)

  -- env: the server's credentials plus `extra` (false removes one)
  local function env_with(extra) return ghl_cli.env(srv, tmp, extra) end

  -- runs bin/ghl: exit code, stdout, stderr
  local function run(args, extra, stdin) return ghl_cli.run(srv, tmp, args, extra, stdin or "") end

  local function json(s)
    local ok, v = pcall(cjson.decode, s)
    assert(ok, "not JSON: " .. s)
    return v
  end

  -- Runs bin/ghl on a pseudo-terminal (util-linux script): the exit code and
  -- the bytes the terminal got (stty -onlcr: LF is not turned into CR LF).
  -- `away` ("stdout" or "stderr") sends that stream to a file instead; the
  -- file's text is the third result.
  local function run_tty(args, extra, away)
    local file = tmp .. "/away"
    os.remove(file)
    local cmd = "stty -onlcr; " .. command(env_with(extra), args)
    if away == "stdout" then cmd = cmd .. " >" .. q(file) end
    if away == "stderr" then cmd = cmd .. " 2>" .. q(file) end
    local screen = capture(("SHELL=/bin/sh script -qec %s /dev/null </dev/null; echo EXIT=$?"):format(q(cmd)))
    local shown, code = screen:match("^(.*)EXIT=(%d+)%s*$")
    return tonumber(code), shown, read(file) or ""
  end

  -- script is util-linux's (Debian's bsdutils, always there); say so if not
  local function has_script()
    if capture("command -v script 2>/dev/null") ~= "" then return true end
    pending("script (util-linux) is not installed: output on a terminal is not tested")
    return false
  end

  describe("call", function()
    it("runs an operation by its bare operationId and prints the JSON answer", function()
      local code, out, err = run{ "call", "get-contact", "contactId=SeedC000000000000001" }
      assert.are.equal(0, code, err)
      assert.are.equal("", err)
      assert.are.equal("SeedC000000000000001", json(out).contact.id)
      assert.are.equal(1, count(out, "\n")) -- compact: one line when stdout is not a terminal
    end)

    it("sends name:=json values as JSON (numbers, arrays), name=value as strings", function()
      local code, out, err = run{ "call", "contacts.search-contacts-advanced", "locationId=" .. srv.location_id,
                                  "pageLimit:=3" }
      assert.are.equal(0, code, err)
      assert.are.equal(3, #json(out).contacts)
      assert.matches('"pageLimit":3[,}]', h.last_request(srv).body)

      code, out, err = run{ "call", "contacts.add-tags", "contactId=SeedC000000000000002", 'tags:=["cli-json","vip"]' }
      assert.are.equal(0, code, err)
      assert.matches('"tags":%["cli%-json","vip"%]', h.last_request(srv).body)
      assert.is_table(json(out))
      code, out = run{ "contacts", "get", "SeedC000000000000002" }
      assert.are.equal(0, code)
      local tags = table.concat(json(out).tags, ",")
      assert.matches("cli%-json", tags)
    end)

    it("rejects a bad JSON value and a word that is not a parameter (exit 2)", function()
      local code, out, err = run{ "call", "get-contact", "contactId:={nope" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("not valid JSON", err)
      code, out, err = run{ "call", "get-contact", "SeedC000000000000001" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("expected name=value", err)
    end)

    it("exits 2 for an unknown operation, with the nearest name", function()
      local code, out, err = run{ "call", "get-contactz", "contactId=x" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("unknown operation 'get%-contactz'; did you mean", err)
      assert.is_nil(err:find("traceback", 1, true))
    end)
  end)

  describe("resources", function()
    it("contacts get ID prints the contact", function()
      local code, out, err = run{ "contacts", "get", "SeedC000000000000001" }
      assert.are.equal(0, code, err)
      local c = json(out)
      assert.are.equal("SeedC000000000000001", c.id)
      assert.are.equal("seed0001@seed.example.com", c.email)
    end)

    it("contacts create takes name=value pairs as the fields", function()
      local code, out, err = run{ "contacts", "create", "firstName=Cli", "email=cli@example.com" }
      assert.are.equal(0, code, err)
      local c = json(out)
      assert.are.equal("Cli", c.firstName)
      assert.are.equal("cli@example.com", c.email)
      code, out = run{ "contacts", "get", c.id }
      assert.are.equal(0, code)
      assert.are.equal("Cli", json(out).firstName)
    end)

    it("streams iterators as JSON Lines", function()
      local code, out, err = run{ "contacts", "each", "max_items:=3" }
      assert.are.equal(0, code, err)
      assert.are.equal(3, count(out, "\n"))
      for line in out:gmatch("[^\n]+") do assert.matches("^SeedC", json(line).id) end
    end)

    it("passes :=json as a positional value (a list of tags)", function()
      local code, out, err = run{ "contacts", "add-tags", "SeedC000000000000003", ':=["from-cli"]' }
      assert.are.equal(0, code, err)
      assert.matches('"tags":%["from%-cli"%]', h.last_request(srv).body)
      assert.is_table(json(out))
    end)

    it("exits 1 for an API error: the message on stderr, nothing on stdout", function()
      local code, out, err = run{ "contacts", "get", "SeedCmissing000000000" }
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("^ghl: http 404: [^\n]*GET /contacts/SeedCmissing000000000", err)
      assert.is_nil(err:find("usage:", 1, true))
    end)

    it("never prints the token, even when GHL refuses it", function()
      local code, out, err = run({ "contacts", "get", "SeedC000000000000001" }, { GHL_TOKEN = "pit-wrong-token-0000" })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      assert.matches("401", err)
      assert.is_nil(err:find("pit-wrong-token-0000", 1, true))
    end)
  end)

  describe("usage errors exit 2", function()
    it("an unknown command", function()
      local code, out, err = run{ "frobnicate" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("unknown command 'frobnicate'", err)
      assert.matches("usage: ghl", err)
    end)

    it("an unknown method of a resource lists the methods", function()
      local code, out, err = run{ "contacts", "frobnicate" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("contacts: unknown method 'frobnicate'; its methods: .*get", err)
    end)

    it("an unknown resource lists the resources", function()
      local code, _, err = run{ "widgets", "list" }
      assert.are.equal(2, code)
      assert.matches("unknown command 'widgets'.*contacts opportunities calendars", err)
    end)

    it("no credentials", function()
      local code, out, err = run({ "contacts", "get", "SeedC000000000000001" }, { GHL_TOKEN = false })
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("no credentials: set GHL_TOKEN", err)
    end)

    it("bad flags and no command at all", function()
      local code, _, err = run{ "contacts", "export", "--format", "xml" }
      assert.are.equal(2, code)
      assert.matches("%-%-format must be csv or jsonl", err)
      code, _, err = run{ "contacts", "export", "--bogus" }
      assert.are.equal(2, code)
      assert.matches("unknown option %-%-bogus", err)
      code, _, err = run{}
      assert.are.equal(2, code)
      assert.matches("usage: ghl", err)
    end)

    it("a missing id is named with the method's usage, without a traceback", function()
      local code, _, err = run{ "contacts", "get" }
      assert.are.equal(2, code)
      assert.are.equal("ghl: contacts get: missing <contactId>\nghl: usage: ghl contacts get <contactId>\n", err)
    end)
  end)

  describe("help, version, ops", function()
    it("help and --help anywhere print every command and the environment", function()
      for _, args in ipairs{ { "help" }, { "contacts", "get", "--help" }, { "-h" } } do
        local code, out = run(args, { GHL_TOKEN = false })
        assert.are.equal(0, code)
        for _, word in ipairs{ "call <operation>", "contacts export", "ops [filter]", "login", "mock [port]",
                               "GHL_TOKEN", "GHL_LOCATION_ID", "GHL_BASE_URL", "--raw-csv", "GHL_DEBUG" } do
          assert.is_truthy(out:find(word, 1, true), word)
        end
      end
    end)

    it("version", function()
      local code, out = run{ "version" }
      assert.are.equal(0, code)
      assert.matches("^ghl %d+%.%d+%.%d+", out)
    end)

    it("ops [filter] lists matching operations, sorted, with method, path and paging style", function()
      local code, out, err = run({ "ops", "contact" }, { GHL_TOKEN = false })
      assert.are.equal(0, code, err)
      assert.is_truthy(out:find("contacts.get-contact  GET /contacts/{contactId}  token: location\n", 1, true))
      assert.is_truthy(out:find("contacts.search-contacts-advanced  POST /contacts/search  (search_after)", 1, true))
      local prev
      for line in out:gmatch("[^\n]+") do
        local key = line:match("^(%S+)  %u+ /")
        assert.is_truthy(key, line)
        assert.is_truthy(key:lower():find("contact", 1, true), line)
        if prev then assert.is_true(prev < key) end
        prev = key
      end
      code, out = run{ "ops", "GET-CONTACT", "--json" }
      assert.are.equal(0, code)
      local list = json(out)
      assert.is_true(#list >= 1)
      local found
      for _, op in ipairs(list) do
        if op.key == "contacts.get-contact" then found = op end
      end
      assert.are.same({ "GET", "/contacts/{contactId}", "location" }, { found.method, found.path, found.token })
    end)

    it("ops shows the token an operation takes", function()
      for key, want in pairs{
        ["companies.get-company"] = "agency",
        ["oauth.get-installed-location"] = "agency, OAuth only",
        ["marketplace.getCharges"] = "location, OAuth only",
        ["locations.get-location"] = "location or agency",
        ["oauth.get-access-token"] = "none declared",
      } do
        local code, out = run({ "ops", key }, { GHL_TOKEN = false })
        assert.are.equal(0, code)
        local line = out:match("^" .. key:gsub("%-", "%%-") .. "  [^\n]*")
        assert.is_truthy(line, out)
        assert.are.equal(want, line:match("  token: ([^\n]-)$"), line)
      end
    end)
  end)

  describe("contacts export", function()
    it("writes every contact as CSV with a header and RFC 4180 quoting", function()
      local code, _, err = run{ "contacts", "update", "SeedC000000000000001", 'firstName=Doe, "Jr"' }
      assert.are.equal(0, code, err)
      local out
      code, out, err = run{ "contacts", "export", "--format", "csv" }
      assert.are.equal(0, code, err)
      assert.are.equal(2501, count(out, "\n"))
      assert.are.equal("id,firstName,lastName,email,phone,tags,dateAdded\n", out:match("^[^\n]*\n"))
      -- the phone starts with "+": a leading ' keeps a spreadsheet from reading a formula (OWASP)
      assert.is_truthy(out:find('\nSeedC000000000000001,"Doe, ""Jr""",Nguyen,seed0001@seed.example.com,'
        .. "'+14150000001,churned;event-2024,2023-01-01T03:01:53.500Z\n", 1, true))
      local ids = {}
      for id in out:gmatch("\n(SeedC%d+),") do ids[id] = true end
      local n = 0
      for _ in pairs(ids) do n = n + 1 end
      assert.are.equal(2500, n)
      -- not a terminal: no bar, the summary all the same
      assert.matches("^exported 2500 contacts in %d+%.%d s\n$", err)
    end)

    it("--format jsonl, --columns and --query", function()
      local code, out, err = run{ "contacts", "export", "--format=jsonl" }
      assert.are.equal(0, code, err)
      assert.are.equal(2500, count(out, "\n"))
      local first = json(out:match("^[^\n]+"))
      assert.matches("^SeedC", first.id)
      assert.is_table(first.tags)

      code, out, err = run{ "contacts", "export", "--columns", "id,email", "--query", "seed0007@" }
      assert.are.equal(0, code, err)
      assert.are.equal("id,email\nSeedC000000000000007,seed0007@seed.example.com\n", out)
      assert.matches("exported 1 contacts", err)
    end)

    it("draws a progress bar on a terminal (tmux), the data going to stdout", function()
      -- tools/install-deps (make test) installs tmux; a test never installs anything itself
      local tmux = capture("command -v tmux 2>/dev/null"):gsub("%s+$", "")
      if tmux == "" then
        pending("tmux is not installed (tools/install-deps): the progress bar on a terminal is not tested")
        return
      end
      local sock = ("ghl-cli-spec-%d-%d"):format(os.time(), math.random(1, 1e6))
      local file = tmp .. "/export.csv"
      local script = command(env_with(), { "contacts", "export" }) .. " >" .. q(file)
        .. "; echo EXIT=$?; " .. command(env_with(), { "contacts", "get", "SeedC000000000000001" })
        .. "; echo EXIT2=$?; exec sleep 60"
      local t = ("tmux -L %s -f /dev/null"):format(q(sock))
      assert(sh(("TERM=xterm %s new-session -d -x 150 -y 50 %s"):format(t, q(script))), "tmux did not start")
      local screen
      local deadline = socket.gettime() + 20
      repeat
        socket.sleep(0.05)
        screen = capture(t .. " capture-pane -p -S -100 2>/dev/null")
      until screen:find("EXIT2=%d") or socket.gettime() > deadline
      sh(t .. " kill-server 2>/dev/null")
      assert.matches("EXIT=0", screen)
      assert.matches("%[#+%] 2500/2500 contacts 100%%", screen)
      assert.matches("exported 2500 contacts in %d+%.%d s", screen)
      assert.are.equal(2501, count(read(file), "\n"))
      -- stdout on a terminal: pretty JSON
      assert.matches('\n  "id": "SeedC000000000000001",\n', screen)
      assert.matches("EXIT2=0", screen)
    end)
  end)

  describe("hostile data", function()
    -- what anyone can type into a GHL form
    local function create(fields)
      fields.companyName = fields.companyName or "HostileCo"
      local c = assert(h.client(srv).contacts:create(fields))
      return c.id
    end

    -- each value starts a spreadsheet formula (OWASP's list: = + - @ TAB CR), "-5" too
    local CASES = {
      { first = "=1+2", email = "=x1@evil.example", custom = '=HYPERLINK("http://evil.example","click")',
        csv = [['=1+2,'=x1@evil.example,"'=HYPERLINK(""http://evil.example"",""click"")",]],
        raw = [[=1+2,=x1@evil.example,"=HYPERLINK(""http://evil.example"",""click"")",]] },
      { first = "+1+2", email = "+x2@evil.example", custom = "+cmd|' /C calc'!A0",
        csv = "'+1+2,'+x2@evil.example,'+cmd|' /C calc'!A0,", raw = "+1+2,+x2@evil.example,+cmd|' /C calc'!A0," },
      { first = "-1+2", email = "-x3@evil.example", custom = "-2+3",
        csv = "'-1+2,'-x3@evil.example,'-2+3,", raw = "-1+2,-x3@evil.example,-2+3," },
      { first = "@SUM(1;2)", email = "x4@evil.example", custom = "@A1",
        csv = "'@SUM(1;2),x4@evil.example,'@A1,", raw = "@SUM(1;2),x4@evil.example,@A1," },
      { first = "\tTAB=1", email = "x5@evil.example", custom = "\t=1",
        csv = "'\tTAB=1,x5@evil.example,'\t=1,", raw = "\tTAB=1,x5@evil.example,\t=1," },
      { first = "\rCR=1", email = "x6@evil.example", custom = "\r=1",
        csv = "\"'\rCR=1\",x6@evil.example,\"'\r=1\",", raw = "\"\rCR=1\",x6@evil.example,\"\r=1\"," },
      -- a plain negative number (a JSON number in the custom field) is neutralised too: OWASP's rule
      { first = "-5", email = "x7@evil.example", custom = -5, csv = "'-5,x7@evil.example,'-5,", raw = "-5,x7@evil.example,-5," },
      { first = "Ada", email = "ada@evil.example", custom = "plain", phone = "+14155550100",
        csv = "Ada,ada@evil.example,plain,'+14155550100", raw = "Ada,ada@evil.example,plain,+14155550100" },
    }
    local COLUMNS = "id,firstName,email,customFields.1.value,phone"

    local function create_cases()
      local by_id = {}
      for _, c in ipairs(CASES) do
        by_id[create{ firstName = c.first, email = c.email, phone = c.phone,
                      customFields = { { id = "cfHostile", value = c.custom } } }] = c
      end
      return by_id
    end

    -- the rows of a CSV export by id (no cell here holds a LF)
    local function rows(out)
      local header, list = out:match("^([^\n]*)\n(.*)$")
      local by_id = {}
      for line in list:gmatch("([^\n]*)\n") do by_id[line:match("^([^,]*),")] = line:match("^[^,]*,(.*)$") end
      return header, by_id
    end

    describe("CSV formula injection", function()
      it("export puts ' before a cell that starts with = + - @ TAB or CR (OWASP), -5 and +1415... too", function()
        local cases = create_cases()
        local code, out, err = run{ "contacts", "export", "--columns", COLUMNS, "--query", "hostileco" }
        assert.are.equal(0, code, err)
        local header, got = rows(out)
        assert.are.equal(COLUMNS, header)
        local n = 0
        for id, c in pairs(cases) do
          n = n + 1
          assert.are.equal(c.csv, got[id], c.first)
        end
        assert.are.equal(#CASES, n)
        assert.matches("exported 8 contacts", err)
      end)

      it("--raw-csv writes the cells as they are (RFC 4180 quoting only)", function()
        local cases = create_cases()
        local code, out, err = run{ "contacts", "export", "--columns", COLUMNS, "--query", "hostileco", "--raw-csv" }
        assert.are.equal(0, code, err)
        local header, got = rows(out)
        assert.are.equal(COLUMNS, header)
        for id, c in pairs(cases) do assert.are.equal(c.raw, got[id], c.first) end
      end)

      it("JSON Lines are not changed (JSON is no spreadsheet), --raw-csv or not", function()
        local cases = create_cases()
        local code, out, err = run{ "contacts", "export", "--format", "jsonl", "--query", "hostileco" }
        assert.are.equal(0, code, err)
        local n = 0
        for line in out:gmatch("[^\n]+") do
          local v = json(line)
          local c = cases[v.id]
          assert.are.equal(c.first, v.firstName)
          assert.are.equal(c.email, v.email)
          assert.are.equal(c.custom, v.customFields[1].value)
          n = n + 1
        end
        assert.are.equal(#CASES, n)
        assert.is_nil(out:find("\"'", 1, true))
        local _, again = run{ "contacts", "export", "--format", "jsonl", "--query", "hostileco", "--raw-csv" }
        assert.are.equal(out, again)
      end)
    end)

    describe("control characters", function()
      it("an error message on a terminal is one line, its controls shown as \\u00XX; a pipe gets them", function()
        if not has_script() then return end
        local hostile = "\27]0;pwned\7\27[2J gone\nsecond line\rfake prompt $ \194\155" .. "31m red \127!"
        h.fault(srv, "GET", "/contacts/SeedC000000000000002", "message=" .. hostile, 2)
        local code, shown, out = run_tty({ "contacts", "get", "SeedC000000000000002" }, nil, "stdout")
        assert.are.equal(1, code, shown)
        assert.are.equal("", out)
        assert.matches("^ghl: http 400: ", shown)
        assert.is_truthy(shown:find("\\u001b]0;pwned\\u0007\\u001b[2J gone\\u000asecond line\\u000dfake prompt $ "
          .. "\\u009b31m red \\u007f!", 1, true), shown)
        assert.is_nil(control_in(shown), shown)
        assert.are.equal(1, count(shown, "\n"))
        -- not a terminal: the bytes as the server sent them
        local err
        code, out, err = run{ "contacts", "get", "SeedC000000000000002" }
        assert.are.equal(1, code)
        assert.are.equal("", out)
        assert.is_truthy(err:find(hostile, 1, true), err)
      end)

      it("pretty JSON on a terminal shows ESC, CR, DEL and C1 escaped (still JSON); a pipe gets JSON as is", function()
        if not has_script() then return end
        local name = "\27[31mRed\27[0m \194\155" .. "2J \127 \rX\tY"
        local id = create{ firstName = name }
        local code, shown, err = run_tty({ "contacts", "get", id }, nil, "stderr")
        assert.are.equal(0, code, err)
        assert.is_nil(control_in(shown), shown)
        assert.is_truthy(shown:find('\n  "firstName": "\\u001b[31mRed\\u001b[0m \\u009b2J \\u007f \\rX\\tY",\n', 1, true),
          shown)
        assert.are.equal(name, json(shown).firstName) -- \u00XX is JSON's own escape: the same text
        local out
        code, out = run{ "contacts", "get", id }
        assert.are.equal(0, code)
        assert.are.equal(name, json(out).firstName)
        assert.is_truthy(out:find("\\u001b[31mRed", 1, true)) -- JSON escapes C0 itself
        assert.is_truthy(out:find("\194\155", 1, true))       -- C1 needs no escape in JSON
      end)

      it("CSV on a terminal shows the controls escaped; to a file or pipe they are written as they are", function()
        if not has_script() then return end
        local id = create{ firstName = "\27[31mRed", lastName = "\194\155" .. "2J\7" }
        local args = { "contacts", "export", "--columns", "id,firstName,lastName", "--query", "hostileco" }
        local code, shown, err = run_tty(args, nil, "stderr")
        assert.are.equal(0, code, err)
        assert.are.equal("id,firstName,lastName\n" .. id .. ",\\u001b[31mRed,\\u009b2J\\u0007\n", shown)
        local out
        code, out = run(args)
        assert.are.equal(0, code)
        assert.are.equal("id,firstName,lastName\n" .. id .. ",\27[31mRed,\194\155" .. "2J\7\n", out)
      end)

      it("the progress bar takes a total that is no count (2.5) as unknown, and only its own controls", function()
        if not has_script() then return end
        h.fault(srv, "POST", "/contacts/search",
          'json={"contacts":[{"id":"h1","firstName":"\\u001b]0;x\\u0007"}],"total":2.5}')
        local code, shown, out = run_tty({ "contacts", "export", "--columns", "id,firstName" }, nil, "stdout")
        assert.are.equal(0, code, shown)
        assert.is_nil(shown:find("traceback", 1, true), shown)
        assert.matches("^\r1 contacts  [%d.]+/s\27%[K", shown)
        assert.is_nil(shown:find("/2", 1, true), shown)
        assert.matches("\nexported 1 contacts in %d+%.%d s\n$", shown)
        assert.is_nil(control_in((shown:gsub("\r", ""):gsub("\27%[K", ""))), shown)
        assert.are.equal("id,firstName\nh1,\27]0;x\7\n", out) -- a file: the bytes as sent
      end)
    end)

    describe("one-line errors", function()
      it("an answer nested 500 deep prints: compact in a pipe, indentation bounded on a terminal", function()
        local deep = ("["):rep(500) .. '"bottom"' .. ("]"):rep(500)
        h.fault(srv, "GET", "/contacts/SeedC000000000000001",
          'json={"contact":{"id":"SeedC000000000000001","deep":' .. deep .. "}}", 2)
        local code, out, err = run{ "contacts", "get", "SeedC000000000000001" }
        assert.are.equal(0, code, err)
        assert.are.equal("", err)
        assert.is_truthy(out:find(deep, 1, true))
        local function depth(v)
          local d = 0
          while type(v) == "table" do d, v = d + 1, v[1] end
          return d, v
        end
        assert.are.same({ 500, "bottom" }, { depth(json(out).deep) })
        if not has_script() then return end
        local shown
        code, shown, err = run_tty({ "contacts", "get", "SeedC000000000000001" }, nil, "stderr")
        assert.are.equal(0, code, err)
        local widest = 0
        for indent in shown:gmatch("\n( *)") do widest = math.max(widest, #indent) end
        assert.is_true(widest <= 80, "indented by " .. widest)
        assert.are.same({ 500, "bottom" }, { depth(json(shown).deep) })
      end)

      it("an answer deeper than the decoder takes is one line, exit 1", function()
        h.fault(srv, "GET", "/contacts/SeedC000000000000001",
          'json={"contact":{"id":"x","deep":' .. ("["):rep(1200) .. ("]"):rep(1200) .. "}}")
        local code, out, err = run{ "contacts", "get", "SeedC000000000000001" }
        assert.are.equal(1, code)
        assert.are.equal("", out)
        assert.matches("^ghl: decode 200: [^\n]*nested too deep[^\n]*\n$", err)
      end)

      it("a corrupt token store record is one line, exit 1", function()
        local path = tmp .. "/corrupt-tokens.json"
        local key = server.CLIENT_ID:match("^[^-]+") .. ":Location:" .. srv.location_id
        local env = { GHL_TOKEN = false, GHL_CLIENT_ID = server.CLIENT_ID, GHL_CLIENT_SECRET = server.CLIENT_SECRET,
                      GHL_TOKEN_STORE = path }
        local function record(fields) return cjson.encode{ [key] = cjson.encode(fields) } end
        local far = 4102444800000 -- 2100-01-01, in ms
        for _, case in ipairs{
          { "garbage{", "is not a JSON object" },
          { cjson.encode{ [key] = "{{{" }, "the stored record is not valid JSON" },
          { record{ access_token = "x", expires_at = "soon" }, "expires_at is a string, not a number" },
          { record{ access_token = { nested = true }, expires_at = far }, "access_token is a table, not a string" },
          { record{ refresh_token = 7, expires_at = 1 }, "refresh_token is a number, not a string" },
          { record{ minted_from = { 1 }, expires_at = 1 }, "minted_from is a table, not a string" },
        } do
          write(path, case[1])
          local code, out, err = run({ "contacts", "get", "SeedC000000000000001" }, env)
          assert.are.equal(1, code, err)
          assert.are.equal("", out)
          assert.matches("^ghl: auth: token store: [^\n]*\n$", err)
          assert.is_truthy(err:find(case[2], 1, true), err)
        end
      end)

      it("an error nobody expected is one line and a hint, no secret in it; GHL_DEBUG=1 adds the traceback", function()
        -- a progress module that fails as the export starts: a bug inside a command
        local init = 'package.preload["ghl.cli.progress"] = function() return { new = function() '
          .. 'error("boom with " .. os.getenv("GHL_TOKEN") .. "\\nsecond line") end } end'
        local env = { LUA_INIT = init, LUA_INIT_5_4 = init }
        local code, out, err = run({ "contacts", "export" }, env)
        assert.are.equal(1, code)
        assert.are.equal("", out)
        assert.matches("^ghl: unexpected error: [^\n]*boom with %[REDACTED%]\nghl: GHL_DEBUG=1 [^\n]*traceback[^\n]*\n$", err)
        env.GHL_DEBUG = "1"
        code, out, err = run({ "contacts", "export" }, env)
        assert.are.equal(1, code)
        assert.are.equal("", out)
        assert.matches("^ghl: unexpected error: [^\n]*boom with %[REDACTED%]\nsecond line\nstack traceback:\n", err)
        assert.is_nil(err:find(srv.token, 1, true))
      end)

      it("bin/ghl: a library that does not load is one line too", function()
        local init = 'package.preload["ghl.core"] = function() error("no ghl.core here\\n\\tno file x.so") end'
        local code, out, err = run({ "version" }, { LUA_INIT = init, LUA_INIT_5_4 = init })
        assert.are.equal(1, code)
        assert.are.equal("", out)
        assert.matches("^ghl: [^\n]*no ghl%.core here\nghl: GHL_DEBUG=1 [^\n]*\n$", err)
        code, out, err = run({ "version" }, { LUA_INIT = init, LUA_INIT_5_4 = init, GHL_DEBUG = "1" })
        assert.are.equal(1, code)
        assert.are.equal("", out)
        assert.matches("no file x%.so\n", err)
        assert.matches("stack traceback:", err)
      end)

      it("a token the server echoes never reaches the terminal", function()
        if not has_script() then return end
        h.fault(srv, "GET", "/contacts/SeedC000000000000001", "echo_token")
        local code, shown = run_tty({ "contacts", "get", "SeedC000000000000001" }, nil, "stdout")
        assert.are.equal(1, code)
        assert.matches("^ghl: http 400: [^\n]*%[REDACTED%]", shown)
        assert.is_nil(shown:find(srv.token, 1, true))
      end)
    end)
  end)

  -- issue 18: what the command says, in its own terms
  describe("the command line", function()
    -- the requests the server got since the last reset
    local function requests() return h.requests(srv) end

    local function lines_of(s)
      local out = {}
      for line in s:gmatch("[^\n]+") do out[#out + 1] = line end
      return out
    end

    it("ops <operation> shows every parameter, where it goes, which are required, the token and Version; "
      .. "ops zzz says no operation matches", function()
      local code, out, err = run({ "ops", "get-slots" }, { GHL_TOKEN = false })
      assert.are.equal(0, code, err)
      assert.matches("^calendars%.get%-slots  GET /calendars/{calendarId}/free%-slots  token: location\n", out)
      assert.is_truthy(out:find("\n  Version header: 2021-04-15\n", 1, true), out)
      assert.is_truthy(out:find("\n  token: location: a sub-account token (a Private Integration Token or an OAuth token)\n",
        1, true), out)
      assert.matches("\n    calendarId +path +required\n", out)
      assert.matches("\n    startDate +query +required +epoch milliseconds", out)
      assert.matches("\n    endDate +query +required +epoch milliseconds", out)
      for _, name in ipairs{ "timezone", "userId", "userIds" } do
        assert.matches("\n    " .. name .. " +query\n", out) -- optional: no "required"
      end
      assert.is_truthy(out:find("usage: ghl call calendars.get-slots calendarId=... endDate=... startDate=...", 1, true))
      -- body fields, lists, defaults; the token in words
      code, out = run({ "ops", "contacts.add-tags" }, { GHL_TOKEN = false })
      assert.are.equal(0, code)
      assert.matches("\n    contactId +path +required\n", out)
      assert.matches("\n    tags +body +required +a list: tags=a,b", out)
      assert.matches("\n  body: JSON\n", out)
      code, out = run({ "ops", "contacts.create-contact" }, { GHL_TOKEN = false })
      assert.are.equal(0, code)
      assert.matches("\n    locationId +body +required +default: %$GHL_LOCATION_ID", out)
      for key, want in pairs{
        ["oauth.get-installed-location"] = "agency: an agency (company) token; OAuth only",
        ["locations.get-location"] = "either: a location (sub-account) or an agency token",
        ["marketplace.getCharges"] = "location: a sub-account token; OAuth only",
      } do
        code, out = run({ "ops", key }, { GHL_TOKEN = false })
        assert.are.equal(0, code)
        assert.is_truthy(out:find("\n  token: " .. want, 1, true), out)
      end
      -- no match: a clear message, non-zero, nothing on stdout
      code, out, err = run({ "ops", "zzz" }, { GHL_TOKEN = false })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.matches("^ghl: no operation matches 'zzz'\n", err)
      assert.is_nil(err:find("usage: ghl <command>", 1, true))
      -- a near miss gets the name it missed
      code, out, err = run({ "ops", "get-slts" }, { GHL_TOKEN = false })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.matches("^ghl: no operation matches 'get%-slts'; did you mean 'calendars%.get%-slots'%?\n", err)
      -- the JSON form carries the parameters too
      code, out = run({ "ops", "calendars.get-slots", "--json" }, { GHL_TOKEN = false })
      assert.are.equal(0, code)
      local list = json(out)
      assert.are.equal(1, #list)
      assert.are.same({ name = "calendarId", where = "path", required = true }, list[1].params[1])
      assert.are.equal("2021-04-15", list[1].version)
    end)

    it("call reports every missing required parameter at once", function()
      local _
      local code, out, err = run{ "call", "get-slots" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^ghl: call calendars%.get%-slots: missing calendarId %(path%), endDate %(query%), "
        .. "startDate %(query%)\n", err)
      assert.matches("`ghl ops calendars%.get%-slots` shows every parameter", err)
      code, _, err = run({ "call", "get-slots", "startDate=1767225600000" }, { GHL_LOCATION_ID = false })
      assert.are.equal(2, code)
      assert.matches("missing calendarId %(path%), endDate %(query%)\n", err)
      -- one the environment would fill in is named with the setting
      code, _, err = run({ "call", "create-contact", "firstName=Ada" }, { GHL_LOCATION_ID = false })
      assert.are.equal(2, code)
      assert.matches("^ghl: call contacts%.create%-contact: missing locationId %(body; or set GHL_LOCATION_ID%)\n", err)
      -- resource methods too: every missing argument in one line
      code, _, err = run{ "opportunities", "update_status" }
      assert.are.equal(2, code)
      assert.matches("^ghl: opportunities update_status: missing <id>, <status>\n", err)
      assert.matches("usage: ghl opportunities update_status <id> <status>", err)
      assert.are.equal(0, #requests())
    end)

    it("a typo gets a suggestion: a command, a method, an operation", function()
      local _
      local code, out, err = run{ "contact", "get" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.are.equal("ghl: unknown command 'contact'; did you mean 'contacts'?\nghl: `ghl help` lists the commands\n", err)
      code, out, err = run{ "contacts", "gett", "SeedC000000000000001" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^ghl: contacts: unknown method 'gett'; did you mean 'get'%?\n", err)
      assert.is_nil(err:find("usage: ghl <command>", 1, true))
      code, _, err = run{ "contacts", "add-tag", "SeedC000000000000001", "vip" }
      assert.are.equal(2, code)
      assert.matches("unknown method 'add%-tag'; did you mean 'add_tags'%?", err)
      code, out, err = run{ "call", "get-contactz", "contactId=x" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^ghl: call: unknown operation 'get%-contactz'; did you mean 'contacts%.get%-contact'[^\n]*%?\n", err)
      code, _, err = run{ "call", "contacts.get-contactz" }
      assert.are.equal(2, code)
      assert.matches("unknown operation 'contacts%.get%-contactz'; did you mean 'contacts%.get%-contact' or", err)
      code, _, err = run{ "call", "get-slotz" }
      assert.are.equal(2, code)
      assert.matches("^ghl: call: unknown operation 'get%-slotz'; did you mean 'calendars%.get%-slots'%?\n", err)
      -- nothing near: no guess, the list instead
      code, _, err = run{ "call", "qqqqqqqq" }
      assert.are.equal(2, code)
      assert.matches("^ghl: call: unknown operation 'qqqqqqqq'\nghl: `ghl ops <filter>` finds operations", err)
      assert.are.equal(0, #requests())
    end)

    it("messages speak the command line, not Lua: GHL_LOCATION_ID, name=value", function()
      local _
      local code, out, err = run({ "contacts", "create", "firstName=Ada" }, { GHL_LOCATION_ID = false })
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^ghl: contacts create: [^\n]*locationId[^\n]*set GHL_LOCATION_ID", err)
      code, _, err = run({ "contacts", "create", "firstName" })
      assert.are.equal(2, code)
      assert.matches("^ghl: contacts create: unexpected argument 'firstName': fields are given as name=value", err)
      assert.matches("\nghl: usage: ghl contacts create %[name=value %.%.%.%]\n", err)
      code, _, err = run({ "contacts", "create", "bogus=1" })
      assert.are.equal(2, code)
      assert.matches("^ghl: contacts create: contacts%.create%-contact has no body field 'bogus'", err)
      code, _, err = run({ "conversations", "send", "type=SMS" })
      assert.are.equal(2, code)
      assert.matches("^ghl: conversations send: contactId=%.%.%. is required\n", err)
      code, _, err = run({ "contacts", "get", "" })
      assert.are.equal(2, code)
      assert.matches("contactId must be a non%-empty id", err)
      -- none of them speaks Lua
      for _, args in ipairs{ { "contacts", "create", "firstName=Ada" }, { "contacts", "create", "firstName" },
                             { "contacts", "create", "bogus=1" }, { "call", "create-contact", "firstName=Ada" },
                             { "conversations", "send", "type=SMS" }, { "contacts", "get" } } do
        code, _, err = run(args, { GHL_LOCATION_ID = false })
        assert.are.equal(2, code, table.concat(args, " "))
        for _, lua in ipairs{ "ghl.new", "ghl.unchecked", "location_id", "must be a table", "contacts:", "fields.",
                              "invalid_argument", "traceback" } do
          assert.is_nil(err:find(lua, 1, true), lua .. " in: " .. err)
        end
      end
      assert.are.equal(0, #requests())
    end)

    it("a resource's help lists only its own methods: export only where there is one", function()
      local code, out = run({ "help", "calendars" }, { GHL_TOKEN = false })
      assert.are.equal(0, code)
      assert.matches("^usage: ghl calendars <method>", out)
      assert.matches("\n  free_slots <calendarId> %[name=value %.%.%.%] +calendars%.get%-slots\n", out)
      assert.is_nil(out:find("export", 1, true))
      code, out = run({ "help", "contacts" }, { GHL_TOKEN = false })
      assert.are.equal(0, code)
      assert.matches("\n  export %[%-%-format csv|jsonl%]", out)
      assert.matches("\n  add_tags <contactId> <tag>%.%.%. %(or tags=a,b%)", out)
      -- every resource: the methods it has, each once
      local cli = require "ghl.cli"
      for _, r in ipairs(cli.RESOURCES) do
        local err
        code, out, err = run({ r }, { GHL_TOKEN = false })
        assert.are.equal(2, code)
        assert.are.equal("", out)
        assert.matches("^ghl: " .. r .. " needs a method\nusage: ghl " .. r .. " <method>", err)
        local listed = {}
        for line in err:gmatch("\n  ([%w_]+)[^\n]*") do listed[#listed + 1] = line end
        assert.are.same(cli.verbs(r), listed)
        local has_export = false
        for _, m in ipairs(cli.methods(r)) do has_export = has_export or m == "export" end
        assert.are.equal(has_export or r == "contacts", err:find("\n  export", 1, true) ~= nil, r)
        local _, again = run({ "help", r }, { GHL_TOKEN = false })
        assert.are.equal(err:match("\n(usage: .*)$"), again)
      end
      assert.are.same({ "create", "delete", "each", "get", "pages", "search", "update" }, cli.verbs("users"))
    end)

    it("refuses unexpected arguments, sending nothing", function()
      local _
      local code, out, err = run{ "contacts", "get", "SeedC000000000000001", "extra=1" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^ghl: contacts get: unexpected argument 'extra=1': contacts get takes <contactId> and no "
        .. "name=value parameters\nghl: usage: ghl contacts get <contactId>\n$", err)
      code, out, err = run{ "contacts", "get", "SeedC000000000000001", "SeedC000000000000002" }
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("^ghl: contacts get: unexpected argument 'SeedC000000000000002'\n", err)
      code, _, err = run{ "contacts", "delete_note", "SeedC000000000000001", "N1", "N2" }
      assert.are.equal(2, code)
      assert.matches("unexpected argument 'N2'", err)
      code, _, err = run{ "opportunities", "pipelines", "x" }
      assert.are.equal(2, code)
      assert.matches("unexpected argument 'x'", err)
      assert.are.equal(0, #requests())
      -- an id by name works as well as in its place
      code, out, err = run{ "contacts", "get", "contactId=SeedC000000000000001" }
      assert.are.equal(0, code, err)
      assert.are.equal("SeedC000000000000001", json(out).id)
    end)

    it("takes lists as a,b and as positional words; name:=json still works", function()
      local id = "SeedC000000000000004"
      local function sent_tags()
        local r = h.last_request(srv)
        return json(r.body).tags
      end
      local code, _, err = run{ "contacts", "add_tags", id, "tags=vip,lead" }
      assert.are.equal(0, code, err)
      assert.are.same({ "vip", "lead" }, sent_tags())
      code, _, err = run{ "contacts", "add_tags", id, "one", "two,three" }
      assert.are.equal(0, code, err)
      assert.are.same({ "one", "two", "three" }, sent_tags())
      code, _, err = run{ "contacts", "add_tags", id, 'tags:=["json-form"]' }
      assert.are.equal(0, code, err)
      assert.are.same({ "json-form" }, sent_tags())
      code, _, err = run{ "contacts", "remove-tags", id, "tags=vip" }
      assert.are.equal(0, code, err)
      assert.are.same({ "vip" }, sent_tags())
      code, _, err = run{ "contacts", "add_tags", id }
      assert.are.equal(2, code)
      assert.matches("missing <tag>%.%.%. %(or tags=a,b%)", err)
      -- a list field of a body: call and the resources' tables alike
      code, _, err = run{ "call", "contacts.add-tags", "contactId=" .. id, "tags=from-call,second" }
      assert.are.equal(0, code, err)
      assert.are.same({ "from-call", "second" }, sent_tags())
      local out
      code, out, err = run{ "contacts", "create", "firstName=Lists", "tags=a,b" }
      assert.are.equal(0, code, err)
      assert.are.same({ "a", "b" }, json(out).tags)
      -- not a list: the string as it is
      code, out, err = run{ "contacts", "create", "firstName=Doe, Jane" }
      assert.are.equal(0, code, err)
      assert.are.equal("Doe, Jane", json(out).firstName)
      -- followers are user ids, a list too
      code, _, err = run{ "contacts", "add_followers", id, "followers=U1,U2" }
      assert.are.equal(0, code, err)
      assert.are.same({ "U1", "U2" }, json(h.last_request(srv).body).followers)
    end)

    it("export honours --columns for every format and never prints the searchAfter cursor", function()
      local code, out, err = run{ "contacts", "export", "--format", "jsonl", "--columns", "id,email,address.city",
                                  "--query", "seed0007@" }
      assert.are.equal(0, code, err)
      assert.are.equal('{"address.city":null,"email":"seed0007@seed.example.com","id":"SeedC000000000000007"}\n', out)
      code, out, err = run{ "contacts", "export", "--format", "jsonl", "--columns", "id,city", "--query", "seed00" }
      assert.are.equal(0, code, err)
      local lines = lines_of(out)
      assert.is_true(#lines >= 9)
      for _, line in ipairs(lines) do
        local v = json(line)
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = k end
        table.sort(keys)
        assert.are.same({ "city", "id" }, keys)
      end
      -- every field but the paging cursor
      code, out, err = run{ "contacts", "export", "--format", "jsonl" }
      assert.are.equal(0, code, err)
      assert.are.equal(2500, count(out, "\n"))
      assert.is_nil(out:find("searchAfter", 1, true))
      assert.is_truthy(out:find('"email":"seed0001@seed.example.com"', 1, true))
      -- the iterators walk the pages themselves: their cursor is theirs too
      code, out, err = run{ "contacts", "each", "max_items=5" }
      assert.are.equal(0, code, err)
      assert.are.equal(5, count(out, "\n"))
      assert.is_nil(out:find("searchAfter", 1, true))
      code, out, err = run{ "call", "--each", "contacts.search-contacts-advanced", "pageLimit:=2", "max_items:=5" }
      assert.are.equal(0, code, err)
      assert.are.equal(5, count(out, "\n"))
      assert.is_nil(out:find("searchAfter", 1, true))
    end)

    it("a refused token gets a hint: check GHL_TOKEN (and GHL_BASE_URL), never the token", function()
      local _
      local bad = "pit-0000aaaa-1111-2222-3333-444455556666"
      local code, out, err = run({ "contacts", "get", "SeedC000000000000001" }, { GHL_TOKEN = bad })
      assert.are.equal(1, code)
      assert.are.equal("", out)
      local lines = lines_of(err)
      assert.matches("^ghl: auth 401: ", lines[1])
      assert.matches("^ghl: GHL refused the token: check GHL_TOKEN", lines[2])
      assert.is_truthy(lines[3]:find("GHL_BASE_URL is " .. srv.url, 1, true), err)
      assert.matches("ghl mock", lines[3])
      assert.are.equal(3, #lines)
      h.assert_no_secret(err, bad, "stderr")
      -- call says the same
      code, _, err = run({ "call", "get-contact", "contactId=SeedC000000000000001" }, { GHL_TOKEN = bad })
      assert.are.equal(1, code)
      assert.matches("\nghl: GHL refused the token: check GHL_TOKEN", err)
      h.assert_no_secret(err, bad, "stderr")
    end)

    it("times in seconds become epoch milliseconds where the spec says so, with a note", function()
      local code, _, err = run{ "call", "get-slots", "calendarId=CalMock0000000000001", "startDate=1767225600",
                               "endDate=1767312000" }
      assert.are.equal(0, code, err)
      local r = h.last_request(srv)
      assert.matches("[?&]startDate=1767225600000", r.uri)
      assert.matches("[?&]endDate=1767312000000", r.uri)
      assert.are.equal("ghl: note: endDate=1767312000 reads as epoch seconds: sent as 1767312000000 (epoch "
        .. "milliseconds, what GHL takes)\nghl: note: startDate=1767225600 reads as epoch seconds: sent as "
        .. "1767225600000 (epoch milliseconds, what GHL takes)\n", err)
      -- milliseconds stay as they are, and say nothing
      code, _, err = run{ "call", "get-slots", "calendarId=CalMock0000000000001", "startDate:=1767225600000",
                          "endDate=1767312000000" }
      assert.are.equal(0, code, err)
      assert.are.equal("", err)
      r = h.last_request(srv)
      assert.matches("[?&]startDate=1767225600000", r.uri)
      assert.matches("[?&]endDate=1767312000000", r.uri)
      -- the resources' tables too (conversations search takes startDate in ms)
      code, _, err = run{ "conversations", "search", "startDate=1767225600" }
      assert.are.equal(0, code, err)
      assert.matches("[?&]startDate=1767225600000", h.last_request(srv).uri)
      assert.matches("note: startDate=1767225600 reads as epoch seconds", err)
      -- a parameter that is no time is never touched
      code, _, err = run{ "call", "contacts.search-contacts-advanced", "pageLimit=3", "query=1767225600" }
      assert.are.equal(0, code, err)
      assert.matches('"query":"1767225600"', h.last_request(srv).body)
      assert.are.equal("", err)
    end)

    it("an unbuilt checkout or an incomplete install is one line, not a traceback", function()
      local dir = tmp .. "/unbuilt"
      sh(("rm -rf %s && mkdir -p %s/co/bin %s/inst/bin %s/empty && cp bin/ghl %s/co/bin/ && cp bin/ghl %s/inst/bin/ "
        .. "&& ln -s %s %s/co/lua"):format(q(dir), q(dir), q(dir), q(dir), q(dir), q(dir),
        q(capture("pwd"):gsub("%s+$", "") .. "/lua"), q(dir)))
      local empty = dir .. "/empty/?.so"
      local function ghl_at(path, args)
        local cmd = ("%s LUA_CPATH=%s LUA_CPATH_5_4=%s %s %s %s >%s 2>%s; echo $?"):format(CLEAN, q(empty), q(empty),
          LUA, q(path), table.concat(args, " "), q(dir .. "/out"), q(dir .. "/err"))
        local code = tonumber(capture(cmd):match("(%d+)%s*$"))
        return code, read(dir .. "/out") or "", read(dir .. "/err") or ""
      end
      for _, args in ipairs{ { "help" }, { "version" }, { "contacts", "get", "X" } } do
        local code, out, err = ghl_at(dir .. "/co/bin/ghl", args)
        assert.are_not.equal(0, code)
        assert.are.equal("", out)
        assert.are.equal(("ghl: the C modules are not built; run `make%s` first\n"):format(jit and " LUA=luajit" or ""),
          err)
      end
      local code, out, err = ghl_at(dir .. "/inst/bin/ghl", { "help" })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.matches("^ghl: this install of ghl is incomplete: its C module ghl%.core is not on the C path[^\n]*\n$", err)
    end)
  end)

  describe("login", function()
    local client_env
    before_each(function()
      client_env = { GHL_TOKEN = false, GHL_LOCATION_ID = false, GHL_CLIENT_ID = server.CLIENT_ID,
                     GHL_CLIENT_SECRET = server.CLIENT_SECRET, XDG_CONFIG_HOME = tmp .. "/login-config" }
      sh("rm -rf " .. q(tmp .. "/login-config"))
    end)

    local function new_code()
      return h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Location", locationId = srv.location_id }).code
    end

    it("refuses a redirect whose state does not match", function()
      local code, out, err = run({ "login" }, client_env,
        "https://localhost/oauth/callback?code=" .. new_code() .. "&state=not-ours\n")
      assert.are.equal(2, code)
      assert.are.equal("", out)
      assert.matches("v2/oauth/chooselocation%?", err)
      assert.matches("state mismatch", err)
      assert.is_nil(read(tmp .. "/login-config/ghl/tokens.json"))
    end)

    it("exchanges the code, stores the tokens (0600, folder 0700) and later commands use them", function()
      local code, out, err = run({ "login", "--scope", "contacts.readonly,contacts.write" }, client_env,
        "https://localhost/oauth/callback?code=" .. new_code() .. "\n")
      assert.are.equal(0, code, err)
      assert.matches("scope=contacts%.readonly%%20contacts%.write", err)
      local session = json(out)
      assert.are.equal(srv.location_id, session.location_id)
      assert.are.equal("Location", session.user_type)
      local path = tmp .. "/login-config/ghl/tokens.json"
      assert.are.equal("600", capture("stat -c %a " .. q(path)):match("%d+"))
      assert.are.equal("700", capture("stat -c %a " .. q(tmp .. "/login-config/ghl")):match("%d+"))
      -- no token, refresh token or secret was printed
      for _, rec in pairs(json(read(path))) do
        local r = json(rec)
        for _, secret in ipairs{ r.access_token, r.refresh_token, server.CLIENT_SECRET } do
          assert.is_nil(out:find(secret, 1, true))
          assert.is_nil(err:find(secret, 1, true))
        end
      end

      -- no GHL_TOKEN, no GHL_LOCATION_ID: the stored session
      code, out, err = run({ "contacts", "get", "SeedC000000000000001" }, client_env)
      assert.are.equal(0, code, err)
      assert.are.equal("SeedC000000000000001", json(out).id)
    end)

    it("a bare code works too; a used code is an API error (exit 1)", function()
      local c = new_code()
      local code, _, err = run({ "login" }, client_env, c .. "\n")
      assert.are.equal(0, code, err)
      code, _, err = run({ "login" }, client_env, c .. "\n")
      assert.are.equal(1, code)
      assert.matches("ghl: auth", err)
    end)

    it("needs the OAuth app", function()
      local code, _, err = run({ "login" }, { GHL_CLIENT_ID = false }, "x\n")
      assert.are.equal(2, code)
      assert.matches("GHL_CLIENT_ID", err)
    end)
  end)

  describe("mock", function()
    it("serves the seeded local GHL server in the foreground until interrupted", function()
      local port = h.closed_port()
      local log = tmp .. "/mock.log"
      local pid = capture(("%s setsid %s bin/ghl mock %d >%s 2>&1 </dev/null & echo $!")
        :format(CLEAN, LUA, port, q(log))):match("%d+")
      assert.is_truthy(pid)
      local up = false
      local deadline = socket.gettime() + 15
      -- up once it prints the exports: it does so only after it answers
      while not up and socket.gettime() < deadline do
        up = (read(log) or ""):find("export GHL_CLIENT_SECRET=", 1, true) ~= nil
        if not up then socket.sleep(0.05) end
      end
      local ok, err = pcall(function()
        assert.is_true(up, read(log))
        local banner = read(log)
        assert.is_truthy(banner:find("GHL_BASE_URL=http://127.0.0.1:" .. port, 1, true), banner)
        assert.is_truthy(banner:find("GHL_TOKEN=" .. server.TOKEN, 1, true), banner)
        local code, out = run({ "contacts", "get", "SeedC000000000000001" },
          { GHL_BASE_URL = "http://127.0.0.1:" .. port, GHL_TOKEN = server.TOKEN, GHL_LOCATION_ID = server.LOCATION_ID })
        assert.are.equal(0, code)
        assert.are.equal("SeedC000000000000001", json(out).id)
      end)
      -- Ctrl-C: SIGINT to the process group (ghl, its shell, nginx)
      sh("kill -INT -" .. pid .. " 2>/dev/null")
      local gone = false
      deadline = socket.gettime() + 10
      while not gone and socket.gettime() < deadline do
        -- /proc, not ps: ps hangs under the ASan runtime that check-asan preloads
        local stat = read("/proc/" .. pid .. "/stat") or ""
        gone = stat == "" or stat:match("^%d+ %b() Z") ~= nil
        if not gone then socket.sleep(0.05) end
      end
      local left = not gone and read("/proc/" .. pid .. "/cmdline")
      if not gone then sh("kill -KILL -" .. pid .. " 2>/dev/null") end
      assert(ok, err)
      assert.is_true(gone, "ghl mock did not stop on SIGINT: " .. tostring(left))
    end)
  end)
end)

describe("ghl.cli in-process", function()
  local output = require "ghl.cli.output"
  local progress = require "ghl.cli.progress"
  local cli = require "ghl.cli"

  it("prints JSON compact or pretty: keys sorted, arrays, null, [] for empty, every integer digit", function()
    local v = { b = { 1, 2 }, a = cjson.null, c = {}, d = { x = true, ["y/z"] = 'q"\n' }, n = 1795891127367, f = 0.1 }
    assert.are.equal('{"a":null,"b":[1,2],"c":[],"d":{"x":true,"y/z":"q\\"\\n"},"f":0.1,"n":1795891127367}',
      output.json(v))
    assert.are.equal('{\n  "a": null,\n  "b": [\n    1,\n    2\n  ],\n  "c": [],\n  "d": {\n    "x": true,\n'
      .. '    "y/z": "q\\"\\n"\n  },\n  "f": 0.1,\n  "n": 1795891127367\n}', output.json(v, true))
    assert.are.equal('{"1":"a","3":"c"}', output.json({ [1] = "a", [3] = "c" }))
    assert.are.equal("9007199254740991", output.number(9007199254740991))
    assert.are.equal("1e+20", output.number(1e20))
    assert.are.equal('"\\u0001"', output.json("\1"))
    assert.are.equal('"a/b\\\\/c \\"é\\""', output.json('a/b\\/c "é"')) -- no "\/" for "/"
  end)

  it("quotes CSV cells the RFC 4180 way and joins arrays with ;", function()
    assert.are.equal('a,"b,c","say ""hi""","two\nlines",x;y,,3,"{""k"":1}"',
      output.csv_row({ "a", "b,c", 'say "hi"', "two\nlines", { "x", "y" }, cjson.null, 3, { k = 1 } }, 8))
    assert.are.equal(",", output.csv_row({ nil, nil }, 2))
    assert.are.equal("Austin", output.field({ address = { city = "Austin" } }, "address.city"))
  end)

  it("neutralises CSV cells that start a formula (OWASP) unless raw", function()
    for _, v in ipairs{ "=1", "+1", "-1", "@a", "\t1" } do assert.are.equal("'" .. v, output.csv_cell(v)) end
    assert.are.equal("\"'\r1\"", output.csv_cell("\r1"))
    assert.are.equal("'-5", output.csv_cell(-5))
    assert.are.equal("'=a;b", output.csv_cell({ "=a", "b" }))
    assert.are.equal("a;=b", output.csv_cell({ "a", "=b" })) -- only the cell's start counts
    assert.are.equal(" =1", output.csv_cell(" =1"))
    assert.are.equal('"\'=SUM(1,2)"', output.csv_cell("=SUM(1,2)"))
    assert.are.equal('"=SUM(1,2)"', output.csv_cell("=SUM(1,2)", true))
    assert.are.equal("'=a,'-5", output.csv_row({ "=a", "-5" }, 2))
    assert.are.equal("=a,-5", output.csv_row({ "=a", "-5" }, 2, true))
  end)

  it("escapes what a terminal would obey: C0 but TAB (LF kept on request), DEL, C1", function()
    local terminal = require "ghl.cli.terminal"
    assert.are.equal("a\\u001b[2Jb\\u000d\\u0007\\u007f\tc", terminal.escape("a\27[2Jb\r\7\127\tc"))
    assert.are.equal("a\\u000ab\\u0000", terminal.escape("a\nb\0"))
    assert.are.equal("a\nb", terminal.escape("a\nb", true))
    assert.are.equal("\\u009b2J \\u0080\\u009f \194\160 é ©", terminal.escape("\194\155" .. "2J \194\128\194\159 \194\160 é ©"))
    assert.are.equal("plain", terminal.escape("plain"))
    assert.are.equal(5, terminal.escape(5))
    local written = {}
    local file = { write = function(_, ...) for _, x in ipairs{ ... } do written[#written + 1] = x end end }
    local tty = terminal.guard(file, function() return true end)
    tty:write("\27[1m", "x\n")
    assert.are.same({ "\\u001b[1m", "x\n" }, written)
    written = {}
    terminal.guard(file, function() return false end):write("\27[1m")
    assert.are.same({ "\27[1m" }, written)
  end)

  it("prints JSON of any depth the decoder takes; pretty indents 32 levels at most; a cycle is an error", function()
    local deep = {}
    local at = deep
    for _ = 1, 999 do at[1] = {} at = at[1] end
    at[1] = "bottom"
    local compact = output.json(deep)
    assert.are.equal(("["):rep(1000) .. '"bottom"' .. ("]"):rep(1000), compact)
    local pretty = output.json(deep, true)
    local widest = 0
    for indent in pretty:gmatch("\n( *)") do widest = math.max(widest, #indent) end
    assert.are.equal(64, widest)
    assert.is_truthy(pretty:find(("["):rep(968) .. '"bottom"', 1, true))
    assert.are.same(cjson.decode(compact), cjson.decode(pretty))
    local cycle = { a = 1 }
    cycle.self = cycle
    assert.are.equal("output: a value nested deeper than 1000 levels (a cycle?)", h.raised(output.json, cycle))
    assert.are.equal("output: a value nested deeper than 1000 levels (a cycle?)", h.raised(output.json, cycle, true))
  end)

  it("knows the arguments of every method of every resource (a method added by hand needs its signature)", function()
    local cliargs = require "ghl.cli.args"
    local operations = require "ghl.operations"
    for _, r in ipairs(cli.RESOURCES) do
      for _, m in ipairs(cli.methods(r)) do
        local sig = cliargs.signature(r, m)
        assert.is_table(sig, r .. " " .. m .. " has no signature in lua/ghl/cli/args.lua")
        assert.is_table(operations.entry(sig.op), r .. " " .. m .. ": " .. tostring(sig.op))
      end
    end
    for r, methods in pairs(cliargs.HAND) do
      local class = require("ghl.resources." .. r)
      for m in pairs(methods) do assert.is_function(class[m], r .. " " .. m) end
    end
  end)

  it("suggests the nearest words: edit distance first, then a prefix", function()
    local messages = require "ghl.cli.messages"
    assert.are.same({ "get" }, messages.suggest("gett", { "get", "get_task", "create" }))
    assert.are.same({ "contacts" }, messages.suggest("contact", { "contacts", "calendars" }))
    assert.are.same({ "add_followers", "add_tags" }, messages.suggest("add", { "add_tags", "add_followers", "get" }))
    assert.are.same({}, messages.suggest("zzz", { "get", "create" }))
    assert.are.equal("; did you mean 'a' or 'b'?", messages.did_you_mean{ "a", "b" })
    assert.are.equal("", messages.did_you_mean{})
  end)

  it("parses name=value and name:=json", function()
    assert.are.same({ "a", "b=c" }, { cli.parse_pair("a=b=c") })
    local name, v = cli.parse_pair('tags:=["vip",2]')
    assert.are.equal("tags", name)
    assert.are.same({ "vip", 2 }, v)
    assert.is_nil(cli.parse_pair("SeedC0001"))
  end)

  it("draws the progress line with rate and ETA, at most every 100 ms", function()
    assert.are.equal("[############------------] 500/1000 contacts  50%  250/s  ETA 2s",
      progress.line(500, 1000, 2000, "contacts"))
    assert.are.equal("1200 contacts  600/s", progress.line(1200, nil, 2000, "contacts"))
    local t, written = 0, {}
    local out = { write = function(_, ...) for _, s in ipairs{ ... } do written[#written + 1] = s end end }
    local bar = progress.new{ out = out, enabled = true, now = function() return t end, noun = "contacts" }
    for i = 1, 50 do
      t = i * 10 -- 10 ms per item: 500 ms in all
      bar:update(i, 50)
    end
    assert.are.equal(5, bar.draws)
    bar:finish(50, 50)
    assert.matches("50/50 contacts 100%%  100/s  done\27%[K\n$", table.concat(written))
    -- a total that is no count (what a server sent) is not known: no bar, no error
    for _, odd in ipairs{ 2.5, 0 / 0, math.huge, -3, 2 ^ 60 } do
      assert.are.equal("3 contacts  1.5/s", progress.line(3, odd, 2000, "contacts"))
    end
    local quiet = progress.new{ out = out, enabled = false }
    quiet:update(1, 2)
    quiet:finish(2, 2)
    assert.are.equal(0, quiet.draws)
  end)

  it("main returns the exit code and never exits (usage, help)", function()
    local function sink()
      local parts = {}
      return { write = function(_, ...) for _, s in ipairs{ ... } do parts[#parts + 1] = s end end,
               flush = function() end, text = function() return table.concat(parts) end }
    end
    local out, err = sink(), sink()
    local ctx = { stdout = out, stderr = err, getenv = function() return nil end }
    assert.are.equal(2, cli.main({ "nope" }, ctx))
    assert.matches("unknown command 'nope'", err.text())
    assert.are.equal(0, cli.main({ "help" }, ctx))
    assert.matches("GHL_LOCATION_ID", out.text())
    assert.are.equal(2, cli.main({ "users", "get", "U1" }, ctx))
    assert.matches("no credentials", err.text())
  end)

  it("main: whatever a command raises is one line and a hint; GHL_DEBUG=1 adds the traceback", function()
    local function sink()
      local parts = {}
      return { write = function(_, ...) for _, s in ipairs{ ... } do parts[#parts + 1] = s end end,
               flush = function() end, text = function() return table.concat(parts) end }
    end
    local cycle = {}
    cycle[1] = cycle
    local client = { contacts = { get = function() return cycle end }, close = function() end }
    local env = {}
    local function run(tty)
      local out, err = sink(), sink()
      local code = cli.main({ "contacts", "get", "C1" }, { stdout = out, stderr = err, client = client,
        stdout_tty = tty, stderr_tty = tty, getenv = function(k) return env[k] end })
      return code, out.text(), err.text()
    end
    local code, out, err = run(false)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("ghl: unexpected error: output: a value nested deeper than 1000 levels (a cycle?)\n"
      .. "ghl: GHL_DEBUG=1 shows the Lua traceback of this error (please report it)\n", err)
    env.GHL_DEBUG = "1"
    code, out, err = run(true) -- pretty, on a "terminal"
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^ghl: unexpected error: output: [^\n]*\nstack traceback:\n", err)
    assert.is_truthy(err:find("in function", 1, true))
    env.GHL_DEBUG = "0"
    -- an API error's message on a terminal: one line, escaped, no secret of the environment
    env.GHL_TOKEN = "pit-secret-token-1234"
    client.contacts.get = function()
      return nil, require("ghl.errors").new{ kind = "http", status = 400,
        message = "bad \27[2J\npit-secret-token-1234" }
    end
    code, out, err = run(true)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^ghl: http[^\n]*bad \\u001b%[2J\\u000a%[REDACTED%][^\n]*\n$", err)
  end)
end)
