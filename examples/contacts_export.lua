-- Export every contact of the location to CSV (all pages, one in memory).
--
--   lua5.4 examples/contacts_export.lua [out.csv]      (stdout without a file)
local support = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/support.lua")

local COLUMNS = { "id", "firstName", "lastName", "email", "phone", "tags", "dateAdded" }

local function cell(v)
  if type(v) == "table" then v = table.concat(v, ";") end
  if v == nil or v == support.ghl.null then return "" end
  v = tostring(v)
  if v:find('[",\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

support.run(function(client)
  local out = arg[1] and assert(io.open(arg[1], "w")) or io.stdout
  out:write(table.concat(COLUMNS, ","), "\n")
  local n = 0
  for contact in client.contacts:each{ pageLimit = 500 } do -- raises if a page fails
    local row = {}
    for i, col in ipairs(COLUMNS) do row[i] = cell(contact[col]) end
    out:write(table.concat(row, ","), "\n")
    n = n + 1
  end
  if out ~= io.stdout then out:close() end
  io.stderr:write(("exported %d contacts\n"):format(n))
end)
