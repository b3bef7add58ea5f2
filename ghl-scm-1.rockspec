rockspec_format = "3.0"
package = "ghl"
version = "scm-1"
source = {
  url = "git+https://github.com/ghl-lua/ghl.git",
}
description = {
  summary = "GoHighLevel (HighLevel) API v2 client with a C core: libcurl, retries, pagination, OAuth",
  detailed = [[
A Lua client for the GoHighLevel API v2. A C core builds requests and judges
responses; libcurl moves the bytes in scripts, nginx cosockets inside OpenResty.]],
  license = "MIT",
  labels = { "gohighlevel", "highlevel", "crm", "http", "api" },
}
dependencies = {
  "lua >= 5.1", -- nothing else: JSON both ways is in the C core, the ghl command included
}
test_dependencies = {
  "busted",
}
external_dependencies = {
  -- found by the library: luarocks looks in multiarch lib dirs but not in
  -- /usr/include/<triplet>, where Debian keeps curl.h (the compiler does)
  CURL = { library = "curl" },
  OPENSSL = { library = "crypto" },
}
build = {
  type = "builtin",
  modules = {
    -- Lua layer
    ["ghl"] = "lua/ghl.lua",
    ["ghl.catalog"] = "lua/ghl/catalog.lua",
    ["ghl.batch"] = "lua/ghl/batch.lua",
    ["ghl.check"] = "lua/ghl/check.lua",
    ["ghl.cli"] = "lua/ghl/cli.lua",
    ["ghl.cli.args"] = "lua/ghl/cli/args.lua",
    ["ghl.cli.auth"] = "lua/ghl/cli/auth.lua",
    ["ghl.cli.import"] = "lua/ghl/cli/import.lua",
    ["ghl.cli.messages"] = "lua/ghl/cli/messages.lua",
    ["ghl.cli.ops"] = "lua/ghl/cli/ops.lua",
    ["ghl.cli.output"] = "lua/ghl/cli/output.lua",
    ["ghl.cli.progress"] = "lua/ghl/cli/progress.lua",
    ["ghl.cli.terminal"] = "lua/ghl/cli/terminal.lua",
    ["ghl.cli.webhook"] = "lua/ghl/cli/webhook.lua",
    ["ghl.client"] = "lua/ghl/client.lua",
    ["ghl.clock"] = "lua/ghl/clock.lua",
    ["ghl.csv"] = "lua/ghl/csv.lua",
    ["ghl.driver"] = "lua/ghl/driver.lua",
    ["ghl.errors"] = "lua/ghl/errors.lua",
    ["ghl.export"] = "lua/ghl/export.lua",
    ["ghl.job"] = "lua/ghl/job.lua",
    ["ghl.job.journal"] = "lua/ghl/job/journal.lua",
    ["ghl.job.ops"] = "lua/ghl/job/ops.lua",
    ["ghl.job.source"] = "lua/ghl/job/source.lua",
    ["ghl.oauth"] = "lua/ghl/oauth.lua",
    ["ghl.pacer"] = "lua/ghl/pacer.lua",
    ["ghl.resp"] = "lua/ghl/resp.lua",
    ["ghl.store"] = "lua/ghl/store.lua",
    ["ghl.store.file"] = "lua/ghl/store/file.lua",
    ["ghl.store.memory"] = "lua/ghl/store/memory.lua",
    ["ghl.store.redis"] = "lua/ghl/store/redis.lua",
    ["ghl.store.redis_pacer"] = "lua/ghl/store/redis_pacer.lua",
    ["ghl.store.shm"] = "lua/ghl/store/shm.lua",
    ["ghl.tokens"] = "lua/ghl/tokens.lua",
    ["ghl.transport"] = "lua/ghl/transport.lua",
    ["ghl.transport.ngx"] = "lua/ghl/transport/ngx.lua",
    ["ghl.webhook"] = "lua/ghl/webhook.lua",
    ["ghl.operations"] = "lua/ghl/operations.lua",
    ["ghl.options"] = "lua/ghl/options.lua",
    ["ghl.paging"] = "lua/ghl/paging.lua",
    ["ghl.resource"] = "lua/ghl/resource.lua",
    ["ghl.unwrap"] = "lua/ghl/unwrap.lua",
    ["ghl.resources.calendars"] = "lua/ghl/resources/calendars.lua",
    ["ghl.resources.contacts"] = "lua/ghl/resources/contacts.lua",
    ["ghl.resources.conversations"] = "lua/ghl/resources/conversations.lua",
    ["ghl.resources.locations"] = "lua/ghl/resources/locations.lua",
    ["ghl.resources.opportunities"] = "lua/ghl/resources/opportunities.lua",
    ["ghl.resources.users"] = "lua/ghl/resources/users.lua",
    ["ghl.resources.workflows"] = "lua/ghl/resources/workflows.lua",
    -- C core: no dependency beyond Lua (loaded by nginx too)
    ["ghl.core"] = {
      sources = { "csrc/core.c", "csrc/client.c", "csrc/request.c", "csrc/response.c", "csrc/error.c",
                  "csrc/scratch.c", "csrc/strutil.c", "csrc/buf.c", "csrc/pager.c", "csrc/pager_styles.c",
                  "csrc/policy.c", "csrc/pacer.c", "csrc/clock.c", "csrc/random.c",
                  "csrc/http_date.c", "csrc/redact.c", "csrc/http_parse.c", "csrc/fileio.c",
                  "csrc/json_decode.c", "csrc/json_encode.c" },
      defines = { "_POSIX_C_SOURCE=200809L" },
      libraries = { "m" },
    },
    -- webhook signatures with libcrypto, in its own module
    ["ghl.crypto"] = {
      sources = { "csrc/crypto.c", "csrc/buf.c" },
      libraries = { "crypto" },
      incdirs = { "$(OPENSSL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)" },
    },
    -- libcurl transport, in its own module so hosts without libcurl never load it
    ["ghl.curl"] = {
      sources = { "csrc/transport_curl.c", "csrc/buf.c", "csrc/http_parse.c" },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
  -- the command line (bin/ghl): `ghl help`
  install = { bin = { ghl = "bin/ghl" } },
}
