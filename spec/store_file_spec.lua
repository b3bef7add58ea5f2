-- The file token store against a local attacker who can write to its
-- folder: planted symlinks are never followed (the temp file, the lock
-- files), and a folder others can write to is refused unless the caller
-- says so. The specs run as whoever runs them; the "attacker" is simulated
-- by planting the files first.
local h = require "spec.support.helpers"
local ghl = require "ghl"

local SECRET = "rt-planted-attack-0000-secret-refresh-token"

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function is_symlink(path)
  local p = io.popen("test -L '" .. path .. "' && echo link")
  local out = p:read("*l")
  p:close()
  return out == "link"
end

local function mode(path)
  local p = io.popen("stat -c %a '" .. path .. "'")
  local out = p:read("*l")
  p:close()
  return out
end

local function pid()
  return tonumber(read("/proc/self/stat"):match("^(%d+)"))
end

describe("file store under a local attacker", function()
  local dir
  before_each(function() dir = h.private_dir() end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("never writes the tokens through a symlink planted as its temp file", function()
    local path = dir .. "/tokens.json"
    local stolen = dir .. "/attacker-owned"
    assert(io.open(stolen, "w")):close()
    -- the old temp file name was predictable: path .. ".tmp." .. pid
    for _, name in ipairs{ path .. ".tmp." .. pid(), path .. ".tmp" } do
      os.execute(("ln -s '%s' '%s'"):format(stolen, name))
    end
    local store = ghl.store.file(path)
    assert(store:set("Location:L1", { refresh_token = SECRET }))
    assert.are.equal("", read(stolen), "the attacker's file received the tokens")
    assert.is_false(is_symlink(path))
    assert.are.equal("600", mode(path))
    assert.matches(SECRET, read(path), 1, true)
    assert.are.equal(SECRET, store:get("Location:L1").refresh_token)
  end)

  it("replaces a symlink planted as the store file itself instead of writing through it", function()
    local path = dir .. "/tokens.json"
    local stolen = dir .. "/attacker-owned"
    assert(io.open(stolen, "w")):close()
    os.execute(("ln -s '%s' '%s'"):format(stolen, path))
    assert(ghl.store.file(path):set("k", SECRET))
    assert.are.equal("", read(stolen))
    assert.is_false(is_symlink(path))
  end)

  it("refuses a lock file that is a symlink, and creates nothing where it points", function()
    local path = dir .. "/tokens.json"
    local target = dir .. "/created-by-us?"
    os.execute(("ln -s '%s' '%s'"):format(target, path .. ".lock"))
    local store = ghl.store.file(path)
    local ok, err = store:set("k", SECRET)
    assert.is_nil(ok)
    assert.matches("symbolic link", err)
    assert.is_nil(read(target))
    -- the refresh lock of a key too
    os.execute(("ln -s '%s' '%s'"):format(target, path .. ".refresh-Location_L1"))
    local lease, lerr = store:lock("Location:L1", 1000)
    assert.is_nil(lease)
    assert.matches("symbolic link", lerr)
    assert.is_nil(read(target))
  end)

  it("refuses a lock file that is not a regular file", function()
    local path = dir .. "/tokens.json"
    os.execute("mkfifo '" .. path .. ".lock'")
    local ok, err = ghl.store.file(path):set("k", "v")
    assert.is_nil(ok)
    assert.matches("not a regular file", err)
  end)

  for _, m in ipairs{ "777", "770", "1777", "775" } do
    it(("refuses a folder of mode %s unless told otherwise"):format(m), function()
      os.execute(("chmod %s '%s'"):format(m, dir))
      local msg = h.invalid(ghl.store.file, dir .. "/tokens.json")
      assert.matches("can be written by", msg)
      assert.matches("allow_shared_folder", msg)
      local store = ghl.store.file(dir .. "/tokens.json", { allow_shared_folder = true })
      assert(store:set("k", "v"))
      assert.are.equal("v", store:get("k"))
    end)
  end

  it("checks a folder made after the store, before its first write", function()
    local sub = dir .. "/later"
    local store = ghl.store.file(sub .. "/tokens.json")
    os.execute(("mkdir -m 777 '%s'"):format(sub))
    local ok, err = store:set("k", "v")
    assert.is_nil(ok)
    assert.matches("can be written by every user", err)
    assert.is_nil(read(sub .. "/tokens.json"))
  end)

  it("refuses bad options with invalid_argument", function()
    assert.matches("unknown option 'alow_shared_folder'",
      h.invalid(ghl.store.file, dir .. "/t.json", { alow_shared_folder = true }))
    assert.matches("must be a boolean", h.invalid(ghl.store.file, dir .. "/t.json", { allow_shared_folder = 1 }))
    assert.matches("non%-empty string", h.invalid(ghl.store.file, ""))
  end)
end)
