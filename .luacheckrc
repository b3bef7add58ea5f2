-- luacheck settings (make lint): lua/, spec/, examples/, bin/, bench/, tools/.
std = "max"
max_line_length = 160
unused_args = false -- methods keep their full signature
redefined = false

-- nginx code (the nginx transport, the shm store, the test app, the local GHL server, examples)
local ngx_files = { "lua/ghl/transport/ngx.lua", "lua/ghl/store/shm.lua", "lua/ghl/pacer.lua",
                    "lua/ghl/clock.lua", "lua/ghl/resp.lua", "lua/ghl/transport.lua", "lua/ghl/batch.lua", "lua/ghl/webhook.lua",
                    "spec/support/mock/**/*.lua", "spec/support/ngx_app/*.lua", "examples/openresty/*.lua",
                    "bench/server/*.lua" }
files["spec/**/*.lua"] = { std = "max+busted" }
for _, f in ipairs(ngx_files) do files[f] = { std = "max+ngx_lua" } end
files["lua/ghl/catalog.lua"] = { max_line_length = false } -- generated: one operation a line
files["spec/support/mock/ghl_mock/paged_ops.lua"] = { std = "max+ngx_lua", max_line_length = false } -- generated

exclude_files = { "build/**", ".luarocks/**", "lua_modules/**" }
