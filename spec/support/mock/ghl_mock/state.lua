-- In-memory state of the local GHL server (one nginx worker holds it all).
local M = {}

local config, tokens
local log, log_max = {}, 500

M.contacts = {}

function M.configure(c)
  config = c
  tokens = {}
  for _, t in ipairs(c.tokens) do tokens[t.token] = t end
  math.randomseed(c.seed or os.time())
end

function M.token(tok) return tokens[tok] end

function M.reset()
  M.contacts = {}
  log = {}
end

function M.log(req)
  log[#log + 1] = req
  if #log > log_max then table.remove(log, 1) end
end

function M.requests() return log end

local ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

-- GHL ids look like "seD4PfOuKoVMLkEZqohJ": 20 alphanumerics.
function M.new_id()
  local t = {}
  for i = 1, 20 do
    local k = math.random(1, #ALNUM)
    t[i] = ALNUM:sub(k, k)
  end
  return table.concat(t)
end

function M.now_iso()
  local t = ngx.now()
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(t)) .. (".%03dZ"):format(math.floor((t % 1) * 1000))
end

return M
