--- A progress bar on a terminal: items done (of the total, when known),
-- items per second and the time left, redrawn in place with "\r" at most
-- ten times a second.
--
--   local bar = progress.new{ out = io.stderr, enabled = is_tty, noun = "contacts" }
--   bar:update(done, total)     -- total may be nil (no bar, no ETA)
--   bar:finish(done, total)     -- last redraw and a newline (when enabled)
local terminal = require "ghl.cli.terminal"

local M = {}

local Bar = {}
Bar.__index = Bar

local WIDTH = 24          -- cells of the bar itself
local INTERVAL_MS = 100   -- at most ten redraws a second

local function clock_ms()
  return require("ghl.core").now_ms()
end

--- opts: out (a file, default io.stderr; not a terminal guard: the bar
-- writes its own "\r" and clear-line), enabled (draw at all), noun
-- ("items"), now (a clock in ms, for tests), interval_ms.
function M.new(opts)
  opts = opts or {}
  local now = opts.now or clock_ms
  return setmetatable({
    out = opts.out or io.stderr, enabled = opts.enabled and true or false, noun = opts.noun or "items",
    now = now, started = now(), last = nil, interval_ms = opts.interval_ms or INTERVAL_MS, draws = 0,
  }, Bar)
end

--- "4s", "2m05s", "1h02m"
function M.duration(seconds)
  local s = math.floor(seconds + 0.5)
  if s < 60 then return ("%ds"):format(s) end
  if s < 3600 then return ("%dm%02ds"):format(math.floor(s / 60), s % 60) end
  return ("%dh%02dm"):format(math.floor(s / 3600), math.floor(s % 3600 / 60))
end

local function rate_text(rate)
  if rate >= 100 then return ("%d/s"):format(math.floor(rate + 0.5)) end
  return ("%.1f/s"):format(rate)
end

-- A count to show: the server's total is whatever it sent (2.5, 1e300,
-- NaN), and "%d" raises for a number that is not an integer.
local function count(v)
  if type(v) == "number" and v >= 0 and v < 2 ^ 53 and v == math.floor(v) then return v end
  return nil
end

--- The line for `done` of `total` after `elapsed_ms` (without "\r"); a
-- total that is not a count is not known.
function M.line(done, total, elapsed_ms, noun)
  done = count(done) or 0
  total = count(total)
  local seconds = elapsed_ms / 1000
  local rate = seconds > 0 and done / seconds or 0
  if total and total > 0 then
    local frac = math.min(done / total, 1)
    local full = math.floor(frac * WIDTH + 0.5)
    local eta
    if done >= total then
      eta = "done"
    elseif rate > 0 then
      eta = "ETA " .. M.duration((total - done) / rate)
    else
      eta = "ETA --"
    end
    return ("[%s%s] %d/%d %s %3d%%  %s  %s"):format(("#"):rep(full), ("-"):rep(WIDTH - full), done, total,
      noun, math.floor(frac * 100), rate_text(rate), eta)
  end
  return ("%d %s  %s"):format(done, noun, rate_text(rate))
end

function Bar:_draw(done, total)
  local t = self.now()
  self.last = t
  self.draws = self.draws + 1
  -- "\27[K" clears what a longer line before left on the right; these two
  -- are the bar's own controls, the line between them is shown as text
  self.out:write("\r", terminal.escape(M.line(done, total, t - self.started, self.noun)), "\27[K")
  if self.out.flush then self.out:flush() end
end

--- Redraw, unless the last redraw was less than interval_ms ago.
function Bar:update(done, total)
  if not self.enabled then return end
  local t = self.now()
  if self.last and t - self.last < self.interval_ms then return end
  self:_draw(done, total)
end

--- Final redraw and a newline (only when enabled).
function Bar:finish(done, total)
  if not self.enabled then return end
  self:_draw(done, total)
  self.out:write("\n")
  if self.out.flush then self.out:flush() end
end

--- Seconds since the bar was made.
function Bar:elapsed()
  return (self.now() - self.started) / 1000
end

return M
