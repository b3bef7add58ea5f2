-- Runs the ghl command (bin/ghl) as a subprocess, with this suite's
-- interpreter, against the local GHL server: nothing of the caller's
-- environment leaks into a run.
local sys = require "spec.support.sys"

local q = sys.q

local M = {}

M.LUA = jit and "luajit" or "lua5.4"

M.CLEAN = "env -u GHL_TOKEN -u GHL_LOCATION_ID -u GHL_COMPANY_ID -u GHL_BASE_URL -u GHL_CLIENT_ID "
  .. "-u GHL_CLIENT_SECRET -u GHL_REDIRECT_URI -u GHL_TOKEN_STORE -u GHL_PACING_REDIS -u XDG_CONFIG_HOME"

--- The command line for bin/ghl with env (name -> value; false drops one) and args.
function M.command(env, args)
  local parts = { M.CLEAN }
  local names = {}
  for k in pairs(env) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    if env[k] then parts[#parts + 1] = k .. "=" .. q(env[k]) end
  end
  parts[#parts + 1] = M.LUA .. " bin/ghl"
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return table.concat(parts, " ")
end

--- The environment of a run: server srv's credentials, a config folder in
-- dir, plus `extra` (false removes one).
function M.env(srv, dir, extra)
  local env = { GHL_BASE_URL = srv.url, GHL_TOKEN = srv.token, GHL_LOCATION_ID = srv.location_id,
                XDG_CONFIG_HOME = dir .. "/config" }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

--- Runs bin/ghl with args (stdin: its input, else none); dir holds the
-- output files. Returns the exit code, stdout, stderr.
function M.run(srv, dir, args, extra, stdin)
  local out, err, inp = dir .. "/stdout", dir .. "/stderr", "/dev/null"
  if stdin then
    inp = dir .. "/stdin"
    sys.write(inp, stdin)
  end
  local code = tonumber(sys.capture(("%s >%s 2>%s <%s; echo $?"):format(M.command(M.env(srv, dir, extra), args),
    q(out), q(err), q(inp))):match("(%d+)%s*$"))
  return code, sys.read(out) or "", sys.read(err) or ""
end

return M
