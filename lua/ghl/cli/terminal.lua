--- What the ghl command lets through to a terminal.
--
-- A terminal obeys the control characters in what it is sent: ESC [ 2 J
-- clears the screen, ESC ] 0 ; ... BEL retitles the window, OSC 52 writes
-- the clipboard, a CR overwrites the line (a fake prompt), and the C1
-- controls (U+0080..U+009F; U+009B is a one-character CSI) do the same on
-- many terminals. Contact fields and error messages come from a server, so
-- on a terminal every such character is shown as a visible \u00XX instead:
-- C0 (but TAB, and LF where lines are wanted), DEL, ESC and C1 as UTF-8.
-- The escape is JSON's, so pretty JSON stays valid JSON on the screen.
--
--   terminal.escape("a\27[2Jb")          a\u001b[2Jb
--   terminal.escape("a\nb")              a\u000ab   (one line: messages)
--   terminal.escape("a\nb", true)        a\nb       (lines kept)
--   local out = terminal.guard(io.stdout, function() return is_tty(1) end)
--
-- Off a terminal (a pipe, a file) a guard writes the bytes as they are:
-- they are data there.
local M = {}

local find, gsub, byte, fmt = string.find, string.gsub, string.byte, string.format
local select = select

local function code(c) return fmt("\\u%04x", byte(c)) end
local function c1(b) return fmt("\\u00%02x", byte(b)) end

-- any byte that may start something to escape: C0, DEL, the lead byte of C1
local MAYBE = "[%z\1-\31\127\194]"
local C0_ONE_LINE = "[%z\1-\8\10-\31\127]" -- all but TAB
local C0_LINES = "[%z\1-\8\11-\31\127]"    -- all but TAB and LF

--- `s` with its control characters as \u00XX (see above); `keep_lines`:
-- LF stays a line break. Other values are returned as they are.
function M.escape(s, keep_lines)
  if type(s) ~= "string" or not find(s, MAYBE) then return s end
  s = gsub(s, keep_lines and C0_LINES or C0_ONE_LINE, code)
  s = gsub(s, "\194([\128-\159])", c1)
  return s
end

local Guard = {}
Guard.__index = Guard

--- A stream like `file` (write, flush) that escapes what is written when
-- `is_tty()` says it is a terminal (asked once, at the first write: the
-- question costs a process); line breaks stay. Each value written is
-- escaped whole: the CLI never splits a character across two of them.
-- `guard.raw` is `file`, for
-- the one writer whose controls are its own (the progress bar).
function M.guard(file, is_tty)
  return setmetatable({ raw = file, is_tty = is_tty, tty = nil }, Guard)
end

--- true when this guard writes to a terminal (asks now if it has not yet).
function Guard:terminal()
  if self.tty == nil then self.tty = self.is_tty() and true or false end
  return self.tty
end

function Guard:write(...)
  if not self:terminal() then
    self.raw:write(...)
    return self
  end
  local n = select("#", ...)
  local parts = { ... }
  for i = 1, n do parts[i] = M.escape(parts[i], true) end
  self.raw:write((table.unpack or unpack)(parts, 1, n))
  return self
end

function Guard:flush()
  if self.raw.flush then return self.raw:flush() end
  return true
end

return M
