--- Sleeping and the clock where the host allows it: ngx.sleep inside nginx
-- (it yields), a blocking sleep elsewhere.
-- @internal ghl.clock
local core = require "ghl.core"

local M = { now_ms = core.now_ms }

function M.sleep_ms(ms)
  if ngx and ngx.sleep and ngx.get_phase and ngx.get_phase() ~= "init" then
    ngx.sleep(ms / 1000)
  else
    core.sleep_ms(ms)
  end
end

--- Polls try() (-> value | nil, err | false = busy) every step_ms until it
-- gives a value or timeout_ms passes.
function M.poll(try, timeout_ms, step_ms)
  local deadline = M.now_ms() + timeout_ms
  while true do
    local v, err = try()
    if v then return v end
    if v == nil then return nil, err end
    if M.now_ms() >= deadline then return nil, "timeout" end
    M.sleep_ms(step_ms or 10)
  end
end

return M
