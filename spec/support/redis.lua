--- A throwaway redis-server on a free 127.0.0.1 port, for the Redis token store specs.
--   local r = redis.start()                 r.host, r.port, r:stop()
--   local r = redis.start{ persist = true } the data outlives a restart (append-only file)
--   r.outage(after_s, down_s)               in the background: stop it after after_s,
--                                           start it again on the same port down_s later
--   r.pause(after_s, down_s)                the same with SIGSTOP / SIGCONT: nothing answers
--   r.wait_up(timeout_s)                    until it answers again
local socket = require "socket"

local M = {}

local sys = require "spec.support.sys"
local sh = sys.sh

local function answers(port)
  local c = socket.tcp()
  c:settimeout(0.1)
  local ok = c:connect("127.0.0.1", port)
  if ok then
    -- the port may be open before the data is loaded: PING until PONG
    c:send("PING\r\n")
    ok = c:receive("*l") == "+PONG"
  end
  c:close()
  return ok
end

function M.start(opts)
  opts = opts or {}
  local port = require("spec.support.server").free_port()
  local p = io.popen("mktemp -d /tmp/ghl-redis.XXXXXX")
  local dir = p:read("*l")
  p:close()
  local persist = opts.persist and "--appendonly yes --appendfsync always" or "--appendonly no"
  local cmd = ("redis-server --port %d --bind 127.0.0.1 --save '' %s --daemonize yes "
    .. "--dir '%s' --pidfile '%s/redis.pid' --logfile '%s/redis.log'"):format(port, persist, dir, dir, dir)
  assert(sh(cmd), "redis-server did not start (Debian package redis-server)")
  local r = { host = "127.0.0.1", port = tonumber(port), dir = dir }
  function r.wait_up(timeout_s)
    for _ = 1, (timeout_s or 4) * 50 do
      if answers(port) then return true end
      socket.sleep(0.02)
    end
    error("redis-server did not answer on port " .. port)
  end
  local pidfile = dir .. "/redis.pid"
  function r.outage(after_s, down_s)
    assert(sh(("(sleep %.3f; kill $(cat '%s'); while [ -e '%s' ]; do sleep 0.01; done; sleep %.3f; %s) "
      .. ">/dev/null 2>&1 &"):format(after_s, pidfile, pidfile, down_s, cmd)))
  end
  -- in the background: stop the process (SIGSTOP) after after_s for down_s;
  -- connections are accepted but nothing answers
  function r.pause(after_s, down_s)
    assert(sh(("(sleep %.3f; kill -STOP $(cat '%s'); sleep %.3f; kill -CONT $(cat '%s')) >/dev/null 2>&1 &")
      :format(after_s, pidfile, down_s, pidfile)))
  end
  function r.stop()
    local f = io.open(pidfile)
    local pid = f and f:read("*l")
    if f then f:close() end
    if pid then sh("kill " .. pid .. " 2>/dev/null") end
    for _ = 1, 100 do
      if not sys.read(pidfile) then break end
      socket.sleep(0.01)
    end
    sh(("rm -rf '%s'"):format(dir))
  end
  r.wait_up()
  return r
end

return M
