-- Smoke test: every example runs against the local GHL server and exits 0.
local h = require "spec.support.helpers"

local LUA = jit and "luajit" or "lua5.4"

local function run(srv, script, args, env, stdin)
  local vars = { GHL_BASE_URL = srv.url, GHL_TOKEN = srv.token, GHL_LOCATION_ID = srv.location_id }
  for k, v in pairs(env or {}) do vars[k] = v end
  local prefix = {}
  for k, v in pairs(vars) do prefix[#prefix + 1] = ("%s='%s'"):format(k, v) end
  local cmd = ("%s%s %s examples/%s %s 2>&1; echo \"exit=$?\""):format(
    stdin and ("printf '%s\\n' | "):format(stdin) or "", table.concat(prefix, " "), LUA, script, args or "")
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code, out
end

describe("examples #subprocess", function()
  local srv = h.server()
  setup(srv.start) teardown(srv.stop) before_each(srv.reset)

  it("quickstart creates, reads, updates and deletes a contact", function()
    local code, out = run(srv, "quickstart.lua")
    assert.are.equal(0, code, out)
    assert.matches("created %w+", out)
    assert.matches("deleted %w+", out)
    assert.matches("get after delete %-> ghl: http 404", out)
  end)

  it("contacts_export writes every contact as CSV", function()
    local file = os.tmpname()
    local code, out = run(srv, "contacts_export.lua", file)
    assert.are.equal(0, code, out)
    local n = tonumber(out:match("exported (%d+) contacts"))
    local f = assert(io.open(file))
    local lines = 0
    for _ in f:lines() do lines = lines + 1 end
    f:close()
    os.remove(file)
    assert.is_true(n > 0)
    assert.are.equal(n + 1, lines)
  end)

  it("book_appointment books a free slot", function()
    local code, out = run(srv, "book_appointment.lua")
    assert.are.equal(0, code, out)
    assert.matches("booked appointment %S+ on calendar", out)
  end)

  it("move_deal moves an opportunity to the next stage", function()
    local code, out = run(srv, "move_deal.lua")
    assert.are.equal(0, code, out)
    assert.matches("moved opportunity %S+", out)
  end)

  it("send_sms sends a message", function()
    local code, out = run(srv, "send_sms.lua")
    assert.are.equal(0, code, out)
    assert.matches("sent message %S+ in conversation %S+", out)
  end)

  it("enroll_in_workflow adds a contact to a workflow", function()
    local code, out = run(srv, "enroll_in_workflow.lua")
    assert.are.equal(0, code, out)
    assert.matches("enrolled contact %S+ in workflow %S+", out)
  end)

  it("oauth_login goes from the redirect to a working client, tokens in a 0600 file", function()
    local server = require "spec.support.server"
    local code = h.admin(srv, "POST", "/_mock/oauth/code", { userType = "Location", locationId = srv.location_id }).code
    local file = h.private_dir() .. "/tokens.json"
    local redirect = "https://localhost/oauth/callback?code=" .. code
    local code_rc, out = run(srv, "oauth_login.lua", file,
      { GHL_CLIENT_ID = server.CLIENT_ID, GHL_CLIENT_SECRET = server.CLIENT_SECRET, GHL_TOKEN = "unused" }, redirect)
    assert.are.equal(0, code_rc, out)
    assert.matches("v2/oauth/chooselocation", out)
    assert.matches("tokens for Location " .. srv.location_id .. " saved", out)
    assert.matches("contact SeedC", out)
    local p = io.popen("stat -c %a " .. file)
    assert.are.equal("600", p:read("*l"))
    p:close()
    os.remove(file)
  end)

  it("fails with exit 1 and a readable error when GHL refuses", function()
    local code, out = run(srv, "quickstart.lua", "", { GHL_TOKEN = "pit-wrong-token-0000" })
    assert.are.equal(1, code)
    assert.matches("ghl: auth 401: Invalid JWT", out)
    assert.is_nil(out:find("pit-wrong-token-0000", 1, true))
  end)
end)
