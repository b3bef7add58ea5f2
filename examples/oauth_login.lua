-- From the authorize URL to a working client, with tokens kept in a file.
--
--   GHL_CLIENT_ID=... GHL_CLIENT_SECRET=... GHL_REDIRECT_URI=https://your.app/oauth/callback \
--     lua5.4 examples/oauth_login.lua [tokens.json]
--
-- 1. It prints the URL to open; the installing user picks a location there.
-- 2. GHL redirects to GHL_REDIRECT_URI?code=...&state=...: paste that whole URL
--    (or just the code) here.
-- 3. The code is exchanged; access and refresh tokens go to tokens.json
--    (mode 0600). From then on ghl renews them by itself, one refresh at a
--    time across every process that shares the file.
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")
local ghl = support.ghl

local path = arg[1] or "tokens.json"
local base_url = os.getenv("GHL_BASE_URL")
local app = ghl.oauth{
  client_id = assert(os.getenv("GHL_CLIENT_ID"), "set GHL_CLIENT_ID"),
  client_secret = assert(os.getenv("GHL_CLIENT_SECRET"), "set GHL_CLIENT_SECRET"),
  redirect_uri = os.getenv("GHL_REDIRECT_URI") or "https://localhost/oauth/callback",
  store = ghl.store.file(path),
  base_url = base_url,
}

-- state ties the redirect to this run: check it when it comes back
local state = ("%08x%08x"):format(math.random(0, 0x7fffffff), os.time())
io.stderr:write("Open this URL, choose a location, then paste the URL you are sent to:\n\n  ",
  app:authorize_url{ scope = { "contacts.readonly", "contacts.write" }, state = state }, "\n\n> ")

local answer = io.read("*l") or ""
local code = answer:match("[?&]code=([^&]+)") or answer:match("^%s*(%S+)%s*$")
local back = answer:match("[?&]state=([^&]+)")
if back then assert(ghl.oauth.check_state(state, back)) end
assert(code, "no code in the answer")

local session = assert(app:exchange(code))
print(("tokens for %s %s saved in %s"):format(session.user_type, session.location_id or session.company_id, path))

local client = ghl.new{ oauth = app, location_id = session.location_id, company_id = session.company_id,
                        base_url = base_url }
for contact in client.contacts:each{ max_items = 3 } do
  print("contact " .. contact.id)
end
client:close()
