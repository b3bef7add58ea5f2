-- The README's Lua and shell blocks, run as a reader runs them: in order, in
-- a scratch folder that mirrors the checkout, with no GHL_* variable but
-- those `make mock` prints, so the README cannot rot. A block runs unless
-- the line before its fence says otherwise:
--   <!-- readme: skip REASON -->  not run; the reason is printed
--   <!-- readme: mock -->         a shell block that ends in the local server
--                                 in the foreground: run in the background, and
--                                 the `export` lines it prints become the
--                                 environment of every block after it
--   <!-- readme: serve PORT -->   a shell block that ends in a server of its own
--                                 in the foreground (another terminal, for the
--                                 reader): run in the background until
--                                 127.0.0.1:PORT answers, stopped at the end
--   <!-- readme: client -->       a Lua fragment about `client` (and `ghl`):
--                                 run after two lines that make them from
--                                 that environment
--   <!-- readme: compile -->      Lua that needs what a test cannot give (a
--                                 browser, a webhook request): compiled only
-- Blocks of other languages (nginx, text) are not code to run.
local sys = require "spec.support.sys"

local LUA = jit and "luajit" or "lua5.4"
local ROOT = sys.capture("pwd"):gsub("%s+$", "")
local MARK = "^<!%-%- readme: (%a+)%s*(.-)%s*%-%->$"

local function blocks()
  local list, lines = {}, {}
  for line in (sys.slurp("README.md") .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local i = 1
  while i <= #lines do
    local lang = lines[i]:match("^```(%S*)%s*$")
    if lang then
      local b = { lang = lang, line = i, text = {} }
      local mark, why = (lines[i - 1] or ""):match(MARK)
      b.mark, b.why = mark, why
      i = i + 1
      while lines[i] and not lines[i]:match("^```%s*$") do
        b.text[#b.text + 1] = lines[i]
        i = i + 1
      end
      b.text = table.concat(b.text, "\n") .. "\n"
      list[#list + 1] = b
    end
    i = i + 1
  end
  return list
end

local free_port = require("spec.support.server").free_port

-- the environment of a block: nothing of the caller's GHL_* (a token of
-- one's own must not reach the local server, nor a mock token real GHL)
local function env_prefix(vars)
  local parts = { "env", "-i", "PATH=" .. sys.q(ROOT .. "/bin:" .. os.getenv("PATH")), "HOME=" .. sys.q(os.getenv("HOME")),
                  "LANG=C.UTF-8", "TERM=dumb",
                  "LUA_PATH=" .. sys.q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
                  "LUA_CPATH=" .. sys.q(ROOT .. "/build/luajit/?.so;;"),
                  "LUA_PATH_5_4=" .. sys.q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
                  "LUA_CPATH_5_4=" .. sys.q(ROOT .. "/build/lua5.4/?.so;;") }
  local names = {}
  for k in pairs(vars) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. sys.q(vars[k]) end
  return table.concat(parts, " ")
end

local function run(dir, cmd, vars)
  local out = sys.capture(("cd %s && %s timeout 300 %s 2>&1; echo \"exit=$?\""):format(sys.q(dir), env_prefix(vars), cmd))
  return tonumber(out:match("exit=(%d+)%s*$")), out
end

describe("README #readme", function()
  local dir, vars, groups = nil, {}, {} -- groups: process groups started in the background

  setup(function()
    dir = sys.capture("mktemp -d /tmp/ghl-readme.XXXXXX"):gsub("%s+$", "")
    -- the checkout's entries, so what a block writes (contacts.csv) lands here
    assert(sys.sh(("cd %s && for f in %s/* %s/.luacheckrc; do ln -s \"$f\" .; done"):format(sys.q(dir), sys.q(ROOT),
      sys.q(ROOT))))
  end)

  teardown(function()
    for i = #groups, 1, -1 do
      -- (sh is dash here: no `--` in its kill)
      sys.sh(("kill -TERM -%d 2>/dev/null; sleep 1; kill -KILL -%d 2>/dev/null"):format(groups[i], groups[i]))
    end
    if dir then sys.sh("rm -rf " .. sys.q(dir)) end
  end)

  local skipped = {}
  for _, b in ipairs(blocks()) do
    local where = ("README.md:%d (%s)"):format(b.line, b.lang)
    if b.lang == "lua" or b.lang == "sh" then
      if b.mark == "skip" then
        it(where .. " is skipped with a reason", function()
          assert.is_true(#b.why > 0, where .. ": a skipped block says why")
          skipped[#skipped + 1] = ("%s: %s"):format(where, b.why)
        end)
      elseif b.mark == "mock" then
        it(where .. " starts the local server and prints its exports", function()
          assert.are.equal("sh", b.lang)
          sys.write(dir .. "/block-mock.sh", b.text)
          local log = dir .. "/mock.log"
          local pid = sys.capture(("cd %s && %s MOCK_PORT=%d setsid bash block-mock.sh >%s 2>&1 </dev/null & echo $!")
            :format(sys.q(dir), env_prefix(vars), free_port(), sys.q(log)))
          groups[#groups + 1] = assert(tonumber(pid:match("%d+")))
          local text
          for _ = 1, 1200 do -- make demo may build first
            text = sys.read(log) or ""
            if text:match("export GHL_LOCATION_ID=%S+") then break end
            sys.sh("sleep 0.25")
          end
          for k, v in text:gmatch("export (GHL_[%u_]+)=(%S+)") do vars[k] = v end
          assert.is_truthy(vars.GHL_BASE_URL, text)
          assert.matches("^http://127%.0%.0%.1:%d+$", vars.GHL_BASE_URL)
          assert.is_truthy(vars.GHL_TOKEN, text)
          assert.is_truthy(vars.GHL_LOCATION_ID, text)
        end)
      elseif b.mark == "serve" then
        it(where .. " serves on 127.0.0.1:" .. b.why, function()
          local port = assert(tonumber(b.why), where .. ": serve PORT")
          local socket = require "socket"
          sys.write(dir .. "/block-serve.sh", b.text)
          local log = dir .. "/serve.log"
          local pid = sys.capture(("cd %s && %s setsid bash block-serve.sh >%s 2>&1 </dev/null & echo $!")
            :format(sys.q(dir), env_prefix(vars), sys.q(log)))
          groups[#groups + 1] = assert(tonumber(pid:match("%d+")))
          local up = false
          for _ = 1, 1200 do
            local c = socket.tcp()
            c:settimeout(0.2)
            up = c:connect("127.0.0.1", port) == 1
            c:close()
            if up then break end
            socket.sleep(0.1)
          end
          assert.is_true(up, where .. ": nothing answers on " .. port .. ":\n" .. (sys.read(log) or ""))
        end)
      elseif b.lang == "sh" then
        it(where .. " runs", function()
          sys.write(dir .. "/block.sh", "set -e\n" .. b.text)
          local code, out = run(dir, "bash block.sh", vars)
          assert.are.equal(0, code, where .. ":\n" .. b.text .. "\n--- printed:\n" .. out)
        end)
      else
        local text = b.text
        if b.mark == "client" then
          text = 'local ghl = require "ghl"\nlocal client = ghl.new{ token = os.getenv("GHL_TOKEN"), '
            .. 'location_id = os.getenv("GHL_LOCATION_ID"), base_url = os.getenv("GHL_BASE_URL") };' .. text
        end
        if b.mark == "compile" then
          it(where .. " compiles", function()
            local f, err = (loadstring or load)(text, "=" .. where)
            assert(f, err)
          end)
        else
          it(where .. " runs", function()
            sys.write(dir .. "/block.lua", text)
            local code, out = run(dir, LUA .. " block.lua", vars)
            assert.are.equal(0, code, where .. ":\n" .. text .. "\n--- printed:\n" .. out)
          end)
        end
      end
    end
  end

  it("lists what it did not run", function()
    print("\n  README blocks not run: " .. (#skipped > 0 and table.concat(skipped, "; ") or "none"))
  end)
end)
