--- Credentials of the ghl command: the client from the environment
-- (GHL_TOKEN, or the OAuth session `ghl login` stored), and `ghl login`.
--
-- Functions return nil and a message for misuse (the caller reports it as
-- a usage error, exit 2); API failures come back as ghl errors.
local ghl = require "ghl"

local M = {}

M.DEFAULT_REDIRECT_URI = "https://localhost/oauth/callback"
M.DEFAULT_SCOPES = { "contacts.readonly", "contacts.write" }

-- An environment variable, with "" read as unset.
local function env(ctx, name)
  local v = ctx.getenv(name)
  if v == "" then return nil end
  return v
end
M.env = env

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- Where the OAuth tokens live: --store, GHL_TOKEN_STORE,
-- $XDG_CONFIG_HOME/ghl/tokens.json or ~/.config/ghl/tokens.json.
function M.store_path(ctx, given)
  if given and given ~= "" then return given end
  local p = env(ctx, "GHL_TOKEN_STORE")
  if p then return p end
  local base = env(ctx, "XDG_CONFIG_HOME")
  if not base then
    local home = env(ctx, "HOME")
    if not home then return nil, "no token store: set HOME, XDG_CONFIG_HOME or GHL_TOKEN_STORE, or pass --store" end
    base = home .. "/.config"
  end
  return base .. "/ghl/tokens.json"
end

-- Creates the folder of the store (mode 0700 for a folder made here; an
-- existing folder is left as it is).
local function make_folder(path)
  local dir = path:match("^(.*)/[^/]*$")
  if not dir or dir == "" then return true end
  local f = io.open(dir .. "/.", "rb")
  if f then f:close() return true end
  local ok = os.execute("mkdir -p -m 700 " .. sh_quote(dir) .. " 2>/dev/null")
  if ok == true or ok == 0 then return true end
  return nil, ("cannot create the folder %s"):format(dir)
end

local function oauth_app(ctx, path)
  return ghl.oauth{
    client_id = env(ctx, "GHL_CLIENT_ID"), client_secret = env(ctx, "GHL_CLIENT_SECRET"),
    redirect_uri = env(ctx, "GHL_REDIRECT_URI") or M.DEFAULT_REDIRECT_URI,
    store = ghl.store.file(path), base_url = env(ctx, "GHL_BASE_URL"),
  }
end

--- The pacing store of GHL_PACING_REDIS (redis://[:password@]host[:port][/0]):
-- every `ghl` process (and script) that uses it paces against one budget.
-- Returns store | nil (unset) | nil, message (misuse).
function M.pacing_store(ctx)
  local url = env(ctx, "GHL_PACING_REDIS")
  if not url then return nil end
  local rest = url:match("^redis://(.*)$")
  local password, host, port, db
  if rest then
    local auth, hostpart = rest:match("^(.*)@([^@]*)$")
    if auth then password, rest = auth:match("^[^:]*:(.*)$") or auth, hostpart end
    host, port, db = rest:match("^([%w%.%-]+):?(%d*)/?(%d*)$")
  end
  if not host or (db ~= "" and tonumber(db) ~= 0) then
    return nil, "GHL_PACING_REDIS must look like redis://host:port (or redis://:password@host:port/0; "
      .. "only database 0)"
  end
  return ghl.store.redis{ host = host, port = tonumber(port) or 6379, password = password ~= "" and password or nil }
end

local NO_CREDENTIALS = "no credentials: set GHL_TOKEN (a Private Integration Token) and GHL_LOCATION_ID, "
  .. "or set GHL_CLIENT_ID and GHL_CLIENT_SECRET and run `ghl login`"

--- The client for a command: GHL_TOKEN when set, else the OAuth session
-- stored by `ghl login` (GHL_CLIENT_ID / GHL_CLIENT_SECRET). Returns
-- client | nil, message.
function M.client(ctx)
  local base_url = env(ctx, "GHL_BASE_URL")
  local location_id, company_id = env(ctx, "GHL_LOCATION_ID"), env(ctx, "GHL_COMPANY_ID")
  local pacing_store, why = M.pacing_store(ctx)
  if why then return nil, why end
  local token = env(ctx, "GHL_TOKEN")
  if token then
    return ghl.new{ token = token, location_id = location_id, company_id = company_id, base_url = base_url,
                    pacing_store = pacing_store }
  end
  local client_id, secret = env(ctx, "GHL_CLIENT_ID"), env(ctx, "GHL_CLIENT_SECRET")
  if not (client_id and secret) then return nil, NO_CREDENTIALS end
  local path, perr = M.store_path(ctx)
  if not path then return nil, perr end
  if not exists(path) then
    return nil, ("no credentials: GHL_TOKEN is not set and there is no OAuth session in %s (run `ghl login`)")
      :format(path)
  end
  local app = oauth_app(ctx, path)
  if not (location_id or company_id) then
    local sessions, serr = app:sessions()
    if not sessions then return nil, serr end
    if #sessions == 0 then
      return nil, ("no credentials: GHL_TOKEN is not set and %s holds no session of app %s (run `ghl login`)")
        :format(path, client_id)
    end
    if #sessions > 1 then
      local names = {}
      for i, s in ipairs(sessions) do names[i] = s.user_type .. " " .. s.id end
      return nil, ("%s holds several sessions (%s): set GHL_LOCATION_ID or GHL_COMPANY_ID to pick one")
        :format(path, table.concat(names, ", "))
    end
    local s = sessions[1]
    if s.user_type == "Company" then company_id = s.id else location_id = s.id end
  end
  return ghl.new{ oauth = app, location_id = location_id, company_id = company_id, base_url = base_url,
                  pacing_store = pacing_store }
end

-- A random state for the authorize URL (16 bytes of /dev/urandom, hex).
local function random_state()
  local f = io.open("/dev/urandom", "rb")
  if f then
    local bytes = f:read(16)
    f:close()
    if bytes and #bytes == 16 then
      return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  return ("%08x%08x%08x"):format(math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), os.time())
end

local function url_decode(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- The code and state of what the user pasted: the redirect URL (or its
-- query) or the bare code.
function M.parse_answer(answer)
  answer = (answer or ""):match("^%s*(.-)%s*$")
  if answer == "" then return nil end
  local code = answer:match("[?&#]code=([^&#]*)") or answer:match("^code=([^&#]*)")
  local state = answer:match("[?&#]state=([^&#]*)") or answer:match("^state=([^&#]*)")
  if code then
    return code ~= "" and url_decode(code) or nil, state and url_decode(state)
  end
  if answer:find("[%s?&=/]") then return nil end -- a URL without a code, or garbage
  return answer, nil
end

--- `ghl login`: opts.store (path), opts.scope (list). Returns 0, nil,
-- session | 2, message (misuse) | 1, err (the exchange failed).
function M.login(ctx, opts)
  local client_id, secret = env(ctx, "GHL_CLIENT_ID"), env(ctx, "GHL_CLIENT_SECRET")
  if not (client_id and secret) then
    return 2, "login needs the OAuth app: set GHL_CLIENT_ID and GHL_CLIENT_SECRET (and GHL_REDIRECT_URI)"
  end
  local path, perr = M.store_path(ctx, opts.store)
  if not path then return 2, perr end
  local ok, ferr = make_folder(path)
  if not ok then return 2, ferr end
  local app = oauth_app(ctx, path)
  local state = random_state()
  local url = app:authorize_url{ scope = opts.scope or M.DEFAULT_SCOPES, state = state }
  local err = ctx.stderr
  err:write("Open this URL in a browser and choose the location to install the app in:\n\n  ", url, "\n\n",
    "GHL then sends you to ", env(ctx, "GHL_REDIRECT_URI") or M.DEFAULT_REDIRECT_URI, "?code=...\n",
    "Paste that whole URL (or just the code) here:\n> ")
  err:flush()
  local answer = ctx.stdin:read("l")
  if not ctx.stdin_tty then err:write("\n") end -- a terminal echoed the Enter already
  local code, back = M.parse_answer(answer)
  if not code then return 2, "no code in the answer: paste the URL GHL redirected to, or the code" end
  if back then
    local good, serr = ghl.oauth.check_state(state, back)
    if not good then return 2, tostring(serr) .. " (start again with `ghl login` and paste the URL it leads to)" end
  end
  local session, xerr = app:exchange(code)
  if not session then return 1, xerr end
  err:write(("logged in: tokens for %s %s saved in %s (mode 0600)\n")
    :format(session.user_type, session.location_id or session.company_id, path))
  if path ~= M.store_path(ctx) then
    err:write(("later commands find them with GHL_TOKEN_STORE=%s\n"):format(path))
  end
  return 0, nil, session
end

return M
