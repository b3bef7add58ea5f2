--- Keys made with the openssl command for the webhook specs (Ed25519 and
-- RSA-4096, made once per process), and events signed with them.
local M = {}

local sys = require "spec.support.sys"
local sh, read, write = sys.sh, sys.slurp, sys.write

local keys

--- { dir, ed_private, ed_public (PEM), rsa_private, rsa_public, other_ed_public }
function M.keys()
  if keys then return keys end
  local p = io.popen("mktemp -d /tmp/ghl-keys.XXXXXX")
  local dir = p:read("*l")
  p:close()
  assert(sh(("cd '%s' && openssl genpkey -algorithm ed25519 -out ed.pem 2>/dev/null"
    .. " && openssl pkey -in ed.pem -pubout -out ed.pub 2>/dev/null"
    .. " && openssl genpkey -algorithm ed25519 -out other.pem 2>/dev/null"
    .. " && openssl pkey -in other.pem -pubout -out other.pub 2>/dev/null"
    .. " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out rsa.pem 2>/dev/null"
    .. " && openssl pkey -in rsa.pem -pubout -out rsa.pub 2>/dev/null"):format(dir)), "openssl could not make keys")
  keys = { dir = dir, ed_public = read(dir .. "/ed.pub"), rsa_public = read(dir .. "/rsa.pub"),
           other_ed_public = read(dir .. "/other.pub") }
  return keys
end

--- A file in the keys' folder holding both trusted public keys (PEM); its path.
function M.trusted_keys_file(name)
  local k = M.keys()
  local path = k.dir .. "/" .. name
  write(path, k.ed_public .. "\n" .. k.rsa_public)
  return path
end

local function sign(body, cmd)
  local k = M.keys()
  write(k.dir .. "/body", body)
  assert(sh(cmd:format(k.dir, k.dir, k.dir)), "openssl could not sign")
  local p = io.popen(("openssl base64 -A -in '%s/sig'"):format(k.dir))
  local sig = p:read("a")
  p:close()
  return sig
end

--- base64 Ed25519 signature of the raw bytes (x-ghl-signature)
function M.ed25519(body, which)
  local key = which == "other" and "other.pem" or "ed.pem"
  return sign(body, "openssl pkeyutl -sign -rawin -inkey '%s/" .. key .. "' -in '%s/body' -out '%s/sig' 2>/dev/null")
end

--- base64 RSA-SHA256 PKCS#1 v1.5 signature (x-wh-signature)
function M.rsa(body)
  return sign(body, "openssl dgst -sha256 -sign '%s/rsa.pem' -out '%s/sig' '%s/body' 2>/dev/null")
end

local seq = 0

--- A GHL-shaped event as JSON text, stamped now.
function M.event(fields)
  seq = seq + 1
  local cjson = require "cjson"
  local e = { type = "ContactCreate", locationId = "LocMockA0000000000001", id = "SeedC000000000000001",
              timestamp = os.date("!%Y-%m-%dT%H:%M:%S.000Z"), webhookId = ("wh-%d-%d"):format(os.time(), seq) }
  for k, v in pairs(fields or {}) do
    if v == false then e[k] = nil else e[k] = v end
  end
  return cjson.encode(e)
end

return M
