--- ghl.store.file(path): tokens of every process on this host in one JSON
-- file, mode 0600. Writes are atomic (temp file, fsync, rename) under an
-- flock; each key's refresh lock is a flock of its own, released by the
-- kernel if the holder dies, so a crashed process never blocks the others.
-- The folder must be writable by its owner only: anyone else who can write
-- there could plant files and links under the store's names.
local core = require "ghl.core"
local errors = require "ghl.errors"

local File = {}
File.__index = File

local OPTIONS = { lock_timeout_ms = "number", allow_shared_folder = "boolean" }

--- Make a file store (what `ghl.store.file` returns).
-- @tparam string path the JSON file; its lock files sit next to it:
-- `path..".lock"`, and one `path..".refresh-"..key` per key (characters other
-- than letters, digits, `_` and `-` of the key become `_`)
-- @tparam[opt] table opts
-- @tparam[opt=30000] number opts.lock_timeout_ms how long to wait for a lock
-- @tparam[opt=false] bool opts.allow_shared_folder true to accept a folder that its
-- group or other users can write to (they could then take the tokens)
-- @treturn File
-- @raise an `invalid_argument` error when path is not a non-empty string,
-- an option is unknown or of the wrong type, or the folder is writable by
-- others (or owned by another user) and allow_shared_folder is not set
-- @usage local app = ghl.oauth{ client_id = id, client_secret = secret,
--   store = ghl.store.file("/var/lib/myapp/tokens.json") }
function File.new(path, opts)
  if type(path) ~= "string" or path == "" then
    errors.invalid("ghl.store.file: path must be a non-empty string, got %s", type(path))
  end
  opts = require("ghl.check").options("ghl.store.file", opts, OPTIONS)
  local self = setmetatable({ path = path, lock_timeout_ms = opts.lock_timeout_ms or 30000,
                              shared_ok = opts.allow_shared_folder == true }, File)
  -- refused at once when the folder exists; checked again before the first write otherwise
  local ok, err = self:_check_folder()
  if not ok and not err:find("^cannot read") then errors.invalid("ghl.store.file: %s", err) end
  return self
end

-- true, or nil and why the folder is unsafe for tokens (checked until it passes)
function File:_check_folder()
  if self.shared_ok or self.folder_ok then return true end
  local ok, err = core.private_dir(self.path)
  if not ok then
    return nil, err .. "; use a folder only you can write to (chmod 700), or pass allow_shared_folder = true"
  end
  self.folder_ok = true
  return true
end

local function read_all(self)
  local f, err, code = io.open(self.path, "rb")
  if not f then
    if code == 2 then return {} end -- no file yet: no tokens yet
    return nil, "file store: " .. tostring(err)
  end
  local text = f:read("a")
  f:close()
  if text == "" then return {} end
  local data = core.json_decode(text)
  if type(data) ~= "table" then
    return nil, ("file store: %s is not a JSON object"):format(self.path)
  end
  return data
end

--- A store in one JSON file.
-- @type File

--- Read a value. A key written by `add` reads back as its
-- `{ v = value, exp = ms }` record.
-- @string key
-- @return[1] the value, or nil when absent (a missing file holds nothing)
-- @treturn[2] nil
-- @treturn[2] string err when the file cannot be read or is not a JSON object
function File:get(key)
  local data, err = read_all(self)
  if not data then return nil, err end
  return data[key]
end

--- Every key in the file, in no order (what `App:sessions` lists).
-- @treturn[1] {string,...}
-- @treturn[2] nil
-- @treturn[2] string err when the file cannot be read or is not a JSON object
function File:keys()
  local data, err = read_all(self)
  if not data then return nil, err end
  local out = {}
  for k in pairs(data) do out[#out + 1] = k end
  return out
end

-- Read the file, let change(data) edit it, write it back atomically, all
-- under the file's write lock. change returns false to leave the file as is
-- (then the result is false).
local function transact(self, change)
  local safe, why = self:_check_folder()
  if not safe then return nil, "file store: " .. why end
  local lock, err = core.file_lock(self.path .. ".lock", self.lock_timeout_ms)
  if not lock then return nil, "file store: " .. err end
  local data, rerr = read_all(self)
  if not data then
    lock:unlock()
    return nil, rerr
  end
  if change(data) == false then
    lock:unlock()
    return false
  end
  local ok, werr = core.write_file(self.path, core.json_encode(data))
  lock:unlock()
  if not ok then return nil, "file store: " .. werr end
  return true
end

local function update(self, key, value)
  return transact(self, function(data) data[key] = value end)
end

--- Write a value: read, change, write back atomically under the file's lock.
-- @string key
-- @param value any value JSON can carry (core.json_encode)
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string err
function File:set(key, value) return update(self, key, value) end

--- Write a value only if the key is absent or its `add` entry expired.
-- Stored as `{ v = value, exp = ms }`; each add drops the expired entries,
-- so the file does not grow forever.
-- @string key
-- @param value
-- @number ttl_ms how long the entry counts as present
-- @treturn[1] boolean true when written, false when the key is taken
-- @treturn[2] nil
-- @treturn[2] string err
function File:add(key, value, ttl_ms)
  return transact(self, function(data)
    local now = core.now_ms()
    local cur = data[key]
    if cur ~= nil and not (type(cur) == "table" and cur.exp and cur.exp <= now) then return false end
    -- drop expired entries while here, so the file does not grow forever
    for k, v in pairs(data) do
      if type(v) == "table" and v.exp and v.exp <= now then data[k] = nil end
    end
    data[key] = { v = value, exp = now + ttl_ms }
  end)
end

--- Delete a key only while it holds `value` (an `add` entry: its value),
-- under the file's lock.
-- @string key
-- @param value
-- @treturn[1] boolean true when deleted, false when it holds something else
-- @treturn[2] nil
-- @treturn[2] string err
function File:delete_if(key, value)
  return transact(self, function(data)
    local cur = data[key]
    if type(cur) == "table" and cur.exp then cur = cur.v end
    if cur ~= value then return false end
    data[key] = nil
  end)
end

--- Remove a key (under the file's lock).
-- @string key
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string err
function File:delete(key) return update(self, key, nil) end

--- Take the refresh lock of a key: a flock of its own file, waited for up
-- to `lock_timeout_ms`. It has no expiry: it lasts until `unlock` or until
-- the holder's process ends (the kernel releases it), so the store's ttl
-- argument is not used.
-- @string key
-- @treturn[1] userdata the lease (a core FileLock)
-- @treturn[2] nil
-- @treturn[2] string err
function File:lock(key)
  local safe, why = self:_check_folder()
  if not safe then return nil, "file store: " .. why end
  local name = self.path .. ".refresh-" .. key:gsub("[^%w_-]", "_")
  local lock, err = core.file_lock(name, self.lock_timeout_ms)
  if not lock then return nil, "file store: " .. err end
  return lock
end

--- Extend a lease from `lock`: nothing to do, a flock does not expire.
-- @treturn boolean true
function File:extend()
  return true
end

--- Release a lease from `lock`.
-- @string key not used: the lease knows its file
-- @param lease
-- @treturn boolean true
function File:unlock(key, lease)
  lease:unlock()
  return true
end

return File
