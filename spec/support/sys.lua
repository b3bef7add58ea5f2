--- Shell and file helpers shared by the specs and the local GHL server
-- (runs under Lua 5.4 and LuaJIT alike).
local M = {}

--- A shell word: s in single quotes.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Run a shell command; true when it exited 0, and the exit code.
function M.sh(cmd)
  local ok, _, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0, ok end -- Lua 5.1 / LuaJIT
  return ok == true and (code == 0 or code == nil), code
end

--- A shell command's standard output.
function M.capture(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("*a")
  p:close()
  return s
end

--- A file's bytes, or nil when it cannot be read.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- A file's bytes; raises when it cannot be read.
function M.slurp(path)
  return (assert(M.read(path), "cannot read " .. tostring(path)))
end

--- Write s to path (replacing it).
function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

return M
