--- A throwaway redis-server on a free 127.0.0.1 port, for the Redis token store specs.
local socket = require "socket"

local M = {}

local sh = require("spec.support.sys").sh

function M.start()
  local port = require("spec.support.server").free_port()
  local p = io.popen("mktemp -d /tmp/ghl-redis.XXXXXX")
  local dir = p:read("*l")
  p:close()
  assert(sh(("redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --daemonize yes "
    .. "--dir '%s' --pidfile '%s/redis.pid' --logfile '%s/redis.log'"):format(port, dir, dir, dir)),
    "redis-server did not start (Debian package redis-server)")
  for _ = 1, 200 do
    local c = socket.tcp()
    c:settimeout(0.1)
    if c:connect("127.0.0.1", port) then
      c:close()
      return {
        host = "127.0.0.1", port = tonumber(port), dir = dir,
        stop = function()
          local f = io.open(dir .. "/redis.pid")
          local pid = f and f:read("*l")
          if f then f:close() end
          if pid then sh("kill " .. pid .. " 2>/dev/null") end
          for _ = 1, 100 do
            if not io.open(dir .. "/redis.pid") then break end
            socket.sleep(0.01)
          end
          sh(("rm -rf '%s'"):format(dir))
        end,
      }
    end
    c:close()
    socket.sleep(0.02)
  end
  error("redis-server did not answer on port " .. port)
end

return M
