--- Reading CSV (RFC 4180), for ghl.job's sources: records of cells, read
-- a chunk at a time from a file (or from a string), each with the line it
-- starts on.
--
--     local csv = require "ghl.csv"
--     local read = csv.reader(io.open("people.csv", "rb"))
--     for cells, line in read do print(line, cells[1]) end
--
-- - cells are separated by commas; a cell in double quotes may hold commas,
--   quotes (doubled: `""`) and line breaks, kept as they are;
-- - records end with CRLF, LF or a lone CR; a UTF-8 byte order mark at the
--   very start is dropped; empty lines are skipped (they still count as
--   lines); the last record needs no line break;
-- - lenient where spreadsheets are: a quote inside an unquoted cell is kept,
--   text after a closing quote is appended to the cell (`"a"b` is `ab`);
-- - a quoted cell still open at the end of the input is an error: the
--   iterator raises `invalid_argument` naming the line it started on (the
--   rest of the file would otherwise be read as one cell).
-- @internal ghl.csv
local errors = require "ghl.errors"

local M = {}

local find, sub, byte, concat = string.find, string.sub, string.byte, table.concat

local CHUNK = 65536
local BOM = "\239\187\191"

-- The line breaks in s (CRLF, LF, lone CR: one each).
local function breaks(s)
  if not find(s, "[\r\n]") then return 0 end
  local _, n = s:gsub("\r\n", "\n"):gsub("\r", "\n"):gsub("\n", "")
  return n
end

-- One record of buf from pos: cells, the position after it. nil when buf
-- ends before the record does and more input may follow (not eof); a
-- quoted cell open at the end of all input: false.
local function record(buf, pos, eof)
  local cells, n, len = {}, 0, #buf
  while true do
    local v
    if byte(buf, pos) == 34 then -- a quoted cell
      local parts, np, i = {}, 0, pos + 1
      while true do
        local q = find(buf, '"', i, true)
        if not q then
          if eof then return false end
          return nil
        end
        if q == len and not eof then return nil end -- a doubled quote may continue in the next chunk
        if byte(buf, q + 1) == 34 then
          np = np + 1
          parts[np] = sub(buf, i, q) -- the text and one quote
          i = q + 2
        else
          np = np + 1
          parts[np] = sub(buf, i, q - 1)
          pos = q + 1
          break
        end
      end
      v = concat(parts, "", 1, np)
      local s = find(buf, "[,\r\n]", pos)
      if not s then
        if not eof then return nil end
        s = len + 1
      end
      if s > pos then v = v .. sub(buf, pos, s - 1) end -- text after the closing quote
      pos = s
    else
      local s = find(buf, "[,\r\n]", pos)
      if not s then
        if not eof then return nil end
        s = len + 1
      end
      v = sub(buf, pos, s - 1)
      pos = s
    end
    n = n + 1
    cells[n] = v
    local d = byte(buf, pos)
    if d == 44 then -- a comma: another cell follows (perhaps an empty last one)
      pos = pos + 1
      if pos > len then
        if not eof then return nil end
        n = n + 1
        cells[n] = ""
        return cells, pos
      end
    elseif d == 13 then
      if pos == len and not eof then return nil end -- CR, and perhaps LF in the next chunk
      if byte(buf, pos + 1) == 10 then return cells, pos + 2 end
      return cells, pos + 1
    elseif d == 10 then
      return cells, pos + 1
    else -- the end of the input
      return cells, pos
    end
  end
end

--- An iterator over the records of `src` (a file handle, read in 64 KiB
-- chunks and not closed, or a string): each call returns the list of a
-- record's cells and the line (from 1) the record starts on, then nil.
-- @param src a file handle or a string
-- @treturn function the iterator
function M.reader(src)
  local buf, pos, line, eof = "", 1, 1, false
  local read
  if type(src) == "string" then
    buf, eof = src, true
  else
    read = function()
      local chunk = src:read(CHUNK)
      if not chunk then
        eof = true
        return
      end
      if pos > CHUNK then -- drop what was read already
        buf, pos = sub(buf, pos), 1
      end
      buf = buf .. chunk
    end
    read()
    while #buf < 3 and not eof do read() end -- a byte order mark split over reads
  end
  if sub(buf, 1, 3) == BOM then pos = 4 end
  return function()
    while true do
      -- empty lines are no records
      local c = byte(buf, pos)
      while c == 10 or c == 13 do
        if c == 13 and pos == #buf and not eof then break end
        if c == 13 and byte(buf, pos + 1) == 10 then pos = pos + 1 end
        pos = pos + 1
        line = line + 1
        c = byte(buf, pos)
      end
      if pos > #buf then
        if eof then return nil end
        read()
      else
        local cells, after = record(buf, pos, eof)
        if cells then
          local at = line
          line = line + breaks(sub(buf, pos, after - 1))
          pos = after
          return cells, at
        elseif cells == false then
          errors.invalid("CSV: the record that starts on line %d has a quoted cell that is not closed before the "
            .. "end of the file", line)
        end
        read() -- the record goes on in the next chunk
      end
    end
  end
end

return M
