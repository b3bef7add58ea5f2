--- `ghl webhook`: signed test webhooks, for a receiver of your own (the
-- OpenResty example, examples/webhook_server.lua) on this machine.
--
--   ghl webhook key FILE            the Ed25519 test key pair in FILE (made when
--                                   missing, mode 0600); prints its public key
--   ghl webhook sign [--key FILE] [--send URL] [name=value ...]
--                                   a body signed as GHL signs it (Ed25519 over the
--                                   raw bytes, base64, in x-ghl-signature): the curl
--                                   command, or sent
--
-- The receiver must trust the public key (ghl.webhook.receive's `keys`); GHL's
-- own keys are never the ones that sign here. The dispatch is in cli.lua
-- (`commands.webhook`), which hands over its argument helpers.
local core = require "ghl.core"

local M = {}

M.DEFAULT_URL = "http://127.0.0.1:8081/webhooks/ghl" -- examples/openresty

M.USAGE = [[
usage: ghl webhook key FILE [--pem]
       ghl webhook sign [--key FILE] [--body JSON | --body-file PATH] [--url URL | --send URL]
                        [name=value ...] [name:=json ...]
  key    The Ed25519 key pair of your test webhooks in FILE (PEM, mode 0600),
         made when FILE is missing. Prints its public key: base64 of the raw
         32 bytes (--pem: a PEM block), what the receiver must trust, e.g.
           export GHL_WEBHOOK_PUBLIC_KEY=$(ghl webhook key /tmp/ghl-webhook.key)
  sign   A webhook signed the way GHL signs them: Ed25519 over the raw body,
         base64, in the x-ghl-signature header. The body is --body (or the
         file, - for stdin) as it is, or else an event: a ContactCreate of now
         ({type, locationId = $GHL_LOCATION_ID, timestamp, webhookId}) with
         the name=value pairs over it (name:=null drops a field).
         --key FILE signs with that key pair (made when missing); without it
         a new pair is made on the spot. The public key goes to stderr.
         Prints the curl command that sends it to --url (default
         ]] .. M.DEFAULT_URL .. [[), or with --send URL
         POSTs it and prints the status and the answer (exit 1 unless 2xx).
]]

local function crypto() return require "ghl.crypto" end

local function b64(s) return crypto().base64_encode(s) end

-- the DER head of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow
local SPKI_ED25519 = "\48\42\48\5\6\3\43\101\112\3\33\0"

--- The public key as text: base64 of the raw bytes, or a PEM block.
function M.public_text(raw, pem)
  if not pem then return b64(raw) end
  return "-----BEGIN PUBLIC KEY-----\n" .. b64(SPKI_ED25519 .. raw) .. "\n-----END PUBLIC KEY-----"
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

--- The private key of FILE, made (mode 0600) when FILE is missing.
-- -> private text, raw public key, made (boolean); fail(fmt, ...) raises
function M.key_file(path, fail)
  local text = read_file(path)
  if not text then
    local pub
    text, pub = crypto().ed25519_keypair()
    local ok, err = core.write_file(path, text)
    if not ok then fail("webhook: cannot write the key to %s: %s", path, tostring(err)) end
    return text, pub, true
  end
  local sig, pub = crypto().ed25519_sign(text, "")
  if not sig then fail("webhook: %s: %s", path, pub) end
  return text, pub, false
end

-- "2026-11-28T17:03:00.123Z", now
local function now_iso()
  local ms = core.now_ms()
  local s = math.floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(math.floor(ms % 1000))
end

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n)
  if f then f:close() end
  bytes = bytes or tostring(os.clock()) .. tostring(os.time())
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, 2 * n)
end

--- The default test event, with fields (name -> value; ghl.null drops one) over it.
function M.event(getenv, fields)
  local e = { type = "ContactCreate", timestamp = now_iso(), webhookId = "test-" .. random_hex(8) }
  local loc = getenv("GHL_LOCATION_ID")
  if type(loc) == "string" and loc ~= "" then e.locationId = loc end
  for k, v in pairs(fields) do
    if v == core.null then e[k] = nil else e[k] = v end
  end
  return core.json_encode(e)
end

-- a shell word
local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- The curl command that sends body with its signature to url.
function M.curl_command(url, body, signature)
  return ("curl -sS -X POST -H 'content-type: application/json' -H %s --data-binary %s %s"):format(
    q("x-ghl-signature: " .. signature), q(body), q(url))
end

local function key_command(ctx, args, cli)
  local opts, rest = cli.take_flags(args, { pem = "switch" }, "webhook key")
  if #rest ~= 1 then cli.misuse("webhook key needs one FILE, e.g. ghl webhook key /tmp/ghl-webhook.key") end
  local _, pub, made = M.key_file(rest[1], cli.fail)
  ctx.stderr:write(("ghl webhook: %s %s; the receiver must trust this public key:\n"):format(
    made and "made the key pair" or "the key pair in", rest[1]))
  ctx.stdout:write(M.public_text(pub, opts.pem), "\n")
  return 0
end

local function sign_command(ctx, args, cli)
  local opts, rest = cli.take_flags(args, { key = "value", body = "value", ["body-file"] = "value", url = "value",
                                            send = "value", pem = "switch" }, "webhook sign")
  if opts.body and opts["body-file"] then cli.misuse("webhook sign: --body or --body-file, not both") end
  if opts.url and opts.send then cli.misuse("webhook sign: --url or --send, not both") end
  local fields = {}
  for _, w in ipairs(rest) do
    if w ~= "--" then
      local name, value = cli.parse_pair(w)
      if not name then cli.misuse("webhook sign: expected name=value or name:=json, got '%s'", w) end
      fields[name] = value
    end
  end
  local body = opts.body
  if opts["body-file"] then
    local path = opts["body-file"]
    body = path == "-" and ctx.stdin:read("*a") or read_file(path)
    if not body then cli.fail("webhook sign: cannot read %s", path) end
  end
  if body and next(fields) then cli.misuse("webhook sign: name=value pairs make the event; --body gives it whole") end
  body = body or M.event(ctx.getenv, fields)

  local private, pub
  if opts.key then
    local made
    private, pub, made = M.key_file(opts.key, cli.fail)
    if made then ctx.stderr:write("ghl webhook: made the key pair ", opts.key, "\n") end
  else
    private, pub = crypto().ed25519_keypair()
    ctx.stderr:write("ghl webhook: a key pair made now (--key FILE keeps one)\n")
  end
  local sig = b64((assert(crypto().ed25519_sign(private, body))))
  ctx.stderr:write("ghl webhook: the receiver must trust this public key: ", M.public_text(pub, opts.pem), "\n")

  if not opts.send then
    ctx.stdout:write(M.curl_command(opts.url or M.DEFAULT_URL, body, sig), "\n")
    return 0
  end
  local t = require("ghl.curl").new{ timeout_ms = 30000 }
  -- status, head, body; or nil, kind, message
  local status, head_or_kind, answer = t:perform{ method = "POST", url = opts.send, body = body,
    headers = { ["content-type"] = "application/json", ["x-ghl-signature"] = sig } }
  t:close()
  if not status then
    ctx.stderr:write(("ghl: webhook: %s: %s: %s\n"):format(opts.send, head_or_kind, tostring(answer)))
    return 1
  end
  ctx.stdout:write(("HTTP %d\n%s"):format(status, answer or ""))
  if answer and answer ~= "" and answer:sub(-1) ~= "\n" then ctx.stdout:write("\n") end
  return (status >= 200 and status < 300) and 0 or 1
end

--- `ghl webhook <key|sign> ...`. cli: the command line's helpers
-- {take_flags, misuse (exit 2 and the usage), fail (exit 2), parse_pair}.
-- Returns the exit code.
function M.run(ctx, args, cli)
  local sub = args[1]
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  if sub == "key" then return key_command(ctx, rest, cli) end
  if sub == "sign" then return sign_command(ctx, rest, cli) end
  if sub == "help" then
    ctx.stdout:write(M.USAGE)
    return 0
  end
  if sub == nil then
    ctx.stderr:write(M.USAGE)
    return 2
  end
  cli.misuse("webhook: unknown subcommand '%s' (key, sign)", sub)
end

return M
