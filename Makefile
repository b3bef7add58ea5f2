# ghl: Lua library for the GoHighLevel API v2 with a C core.
#
#   make               build the C modules for Lua 5.4 (build/lua5.4/ghl/*.so)
#   make LUA=luajit    the same sources against LuaJIT 2.1 (build/luajit/)
#   make demo          install what is missing, build, run examples/quickstart.lua
#   make test          install what is missing, build for 5.4 and LuaJIT, run every check
#   make mock          the local GHL server in the foreground, for your own scripts
#   make run SCRIPT=f  run your own script against this checkout (eval "$$(make -s env)" for a shell)

LUA ?= lua5.4
ifeq ($(LUA),luajit)
  LUA_INCDIR ?= /usr/include/luajit-2.1
else
  LUA_INCDIR ?= /usr/include/$(LUA)
endif
BUILD ?= build/$(LUA)
PKG_CONFIG ?= pkg-config
CURL_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)

CC ?= cc
OPT ?= -O2 -g
WARN := -std=c99 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_ALL := $(OPT) $(WARN) -fPIC -fvisibility=hidden -D_POSIX_C_SOURCE=200809L -I$(LUA_INCDIR) $(CFLAGS)
LDFLAGS_ALL := -shared $(LDFLAGS)

CORE_SRC := csrc/core.c csrc/client.c csrc/request.c csrc/response.c csrc/error.c \
            csrc/scratch.c csrc/strutil.c csrc/buf.c csrc/pager.c csrc/pager_styles.c csrc/policy.c csrc/pacer.c \
            csrc/clock.c csrc/random.c csrc/http_date.c csrc/redact.c \
            csrc/http_parse.c csrc/fileio.c csrc/json_decode.c csrc/json_encode.c
CURL_SRC := csrc/transport_curl.c csrc/buf.c csrc/http_parse.c
CRYPTO_SRC := csrc/crypto.c csrc/buf.c
HEADERS := $(wildcard csrc/*.h)

BUSTED := /usr/bin/busted
LUA_PATH_DEV := lua/?.lua;lua/?/init.lua;;

.PHONY: all build deps demo run env test test-lua5.4 test-luajit check-asan check-rockspec check-valgrind check-memory soak \
        catalog check-catalog fuzz mock clean bench bench-smoke lint docs install check-install

all: build

build: $(BUILD)/ghl/core.so $(BUILD)/ghl/curl.so $(BUILD)/ghl/crypto.so

$(BUILD)/ghl/core.so: $(CORE_SRC) $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CORE_SRC) -o $@ $(LDFLAGS_ALL) -lm

$(BUILD)/ghl/curl.so: $(CURL_SRC) $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CURL_CFLAGS) $(CURL_SRC) -o $@ $(LDFLAGS_ALL) $(CURL_LIBS)

$(BUILD)/ghl/crypto.so: $(CRYPTO_SRC) $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CRYPTO_SRC) -o $@ $(LDFLAGS_ALL) -lcrypto

# Debian packages this project builds and tests with; only missing ones are installed.
deps:
	@tools/install-deps

demo: deps
	@$(MAKE) --no-print-directory build LUA=lua5.4
	LUA_PATH_5_4='$(LUA_PATH_DEV)' LUA_CPATH_5_4='build/lua5.4/?.so;;' lua5.4 examples/quickstart.lua

# Your own script against this checkout: make run SCRIPT=my.lua [ARGS="..."] [LUA=luajit].
# Or put the checkout on Lua's paths in your shell: eval "$$(make -s env)"; lua5.4 my.lua
run:
	@test -n "$(SCRIPT)" || { echo 'usage: make run SCRIPT=your_script.lua [ARGS="..."] [LUA=luajit]' >&2; exit 2; }
	@$(MAKE) -s --no-print-directory build >&2
	@LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' LUA_CPATH='$(CURDIR)/$(BUILD)/?.so;;' \
	  LUA_PATH_5_4='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' LUA_CPATH_5_4='$(CURDIR)/$(BUILD)/?.so;;' \
	  $(LUA) $(SCRIPT) $(ARGS)

env:
	@echo "export LUA_PATH_5_4='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' LUA_CPATH_5_4='$(CURDIR)/build/lua5.4/?.so;;'"
	@echo "export LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' LUA_CPATH='$(CURDIR)/build/luajit/?.so;;'"
	@echo "export PATH='$(CURDIR)/bin':\"\$$PATH\""

test: deps
	@$(MAKE) --no-print-directory build LUA=lua5.4
	@$(MAKE) --no-print-directory build LUA=luajit
	@$(MAKE) --no-print-directory lint check-catalog
	@# side by side: both suites spend most of their time waiting on pacing windows, timeouts
	@# and subprocesses, not on the CPU (about 40 s of CPU in 230 s); each suite's output is
	@# printed whole when it ends
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-lua5.4 test-luajit
	@$(MAKE) --no-print-directory check-memory check-rockspec check-install
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)
	@$(MAKE) --no-print-directory bench-smoke

# short in make test; run them longer by hand (make fuzz FUZZ_SECONDS=300, make soak)
TEST_FUZZ_SECONDS ?= 5
TEST_SOAK_REQUESTS ?= 20000

# ASan+UBSan over the whole suite, the quickstart under valgrind, and a soak with flat RSS.
check-memory: check-asan check-valgrind
	lua5.4 tools/soak.lua $(TEST_SOAK_REQUESTS)

soak: build
	lua5.4 tools/soak.lua 100000

test-lua5.4:
	lua5.4 $(BUSTED) --cpath='build/lua5.4/?.so' spec

# The README's blocks and the LDoc build run once, under test-lua5.4 (they are shell
# and plain Lua: the interpreter under busted changes nothing there; and the LDoc
# build writes build/docs-src, which the other suite, running at once, reads).
test-luajit:
	luajit $(BUSTED) --cpath='build/luajit/?.so' --exclude-tags=readme,docs spec

# The rockspec must build offline into a fresh tree and load from it.
check-rockspec:
	@tools/check-rockspec

# The quickstart (C core + libcurl, real HTTP) and the pagers fed hostile pages (ids and
# cursors nested thousands deep) under valgrind: no errors allowed. Debian's liblua is not
# built with ASan, so a push past the Lua stack only shows here.
check-valgrind:
	LUA_PATH_5_4='$(LUA_PATH_DEV)' LUA_CPATH_5_4='build/lua5.4/?.so;;' \
	  valgrind -q --error-exitcode=1 --leak-check=no lua5.4 examples/quickstart.lua >/dev/null
	valgrind -q --error-exitcode=1 --leak-check=no lua5.4 $(BUSTED) --cpath='build/lua5.4/?.so' spec/pager_spec.lua

# luacheck over the Lua code, cppcheck over the C code: both clean (make test runs it).
# variableScope is off: declarations at the top of a block are the style here.
LUA_DIRS := lua spec examples bench tools
lint:
	@tools/install-deps luacheck:lua-check cppcheck:cppcheck
	luacheck -q $(LUA_DIRS) $(wildcard bin/ghl)
	cppcheck --enable=warning,style,performance,portability --std=c99 --error-exitcode=1 --quiet \
	  --inline-suppr -I csrc --suppress=missingIncludeSystem --suppress=variableScope csrc fuzz bench/raw.c

# The API reference from the comments of lua/ and csrc/ and the resource pages gen_docs.lua
# makes (LDoc, Debian lua-ldoc and lua-discount): build/docs/index.html
docs: build
	@tools/install-deps ldoc:lua-ldoc
	lua5.4 tools/gen_docs.lua build/docs-src
	@mkdir -p build/docs/doc # LDoc copies doc/ldoc.css (config.ld's custom_css) there
	ldoc -c config.ld .

# The endpoint catalogue, generated from GHL's OpenAPI specs in ../shared/ghl-openapi.
SPECS ?= ../shared/ghl-openapi
catalog:
	lua5.4 tools/gen_catalog.lua $(SPECS) lua/ghl/catalog.lua

# Fails when the committed catalogue and the specs disagree (skipped without the specs).
check-catalog:
	@lua5.4 tools/gen_catalog.lua --check $(SPECS) lua/ghl/catalog.lua

MOCK_PORT ?= 8080
mock: build
	@exec env LUA_PATH_5_4='$(LUA_PATH_DEV)' lua5.4 spec/support/server.lua --make $(MOCK_PORT)

# make install PREFIX=/usr/local (LUA=luajit for nginx's LuaJIT): the Lua modules, the C
# modules and the ghl command. The installed command is told where the modules went, so
# a PREFIX off Lua's default paths works too.
PREFIX ?= /usr/local
LUA_ABI := $(if $(filter luajit,$(LUA)),5.1,$(patsubst lua%,%,$(LUA)))
LUADIR ?= $(PREFIX)/share/lua/$(LUA_ABI)
LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)
BINDIR ?= $(PREFIX)/bin
install: build
	@for f in $$(cd lua && find . -name '*.lua' | sort); do \
	  install -D -m 0644 "lua/$$f" "$(DESTDIR)$(LUADIR)/$$f" || exit 1; done
	install -d $(DESTDIR)$(LIBDIR)/ghl $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/ghl/core.so $(BUILD)/ghl/curl.so $(BUILD)/ghl/crypto.so $(DESTDIR)$(LIBDIR)/ghl/
	sed -e '1s|.*|#!/usr/bin/env $(LUA)|' \
	    -e '1a package.path = "$(LUADIR)/?.lua;$(LUADIR)/?/init.lua;" .. package.path' \
	    -e '1a package.cpath = "$(LIBDIR)/?.so;" .. package.cpath' bin/ghl > $(DESTDIR)$(BINDIR)/ghl
	chmod 0755 $(DESTDIR)$(BINDIR)/ghl
	@echo "installed ghl $(LUA_ABI) modules under $(PREFIX); try: $(BINDIR)/ghl help"

# make install into a scratch PREFIX; the installed ghl exports contacts from the local server.
check-install:
	@tools/check-install

clean:
	rm -rf build

# The whole suite with the C modules built under AddressSanitizer + UBSan.
# lua5.4 itself is not instrumented, so the runtime is preloaded. The nginx
# specs are left out: they run nginx's LuaJIT build, not these modules, and
# the preloaded runtime would follow into nginx and curl; so are the specs
# whose work is done by other processes (the README's blocks, the killed
# importer), which do not load these modules either.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
check-asan:
	@$(MAKE) --no-print-directory build BUILD=build/asan OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined"
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  lua5.4 $(BUSTED) --cpath='build/asan/?.so' --exclude-tags=nginx,readme,subprocess spec

# libFuzzer harnesses for every pure C parser/encoder (clang, libclang-rt-14-dev).
FUZZ_SECONDS ?= 10
FUZZERS := retry_after headers http json json_encode request response ratelimit pager webhook
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -std=c99 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -I/usr/include/lua5.4
build/fuzz/%: fuzz/fuzz_%.c fuzz/harness.h $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(CORE_SRC) -o $@ -llua5.4 -lm

build/fuzz/webhook: fuzz/fuzz_webhook.c fuzz/harness.h $(CORE_SRC) csrc/crypto.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(CORE_SRC) csrc/crypto.c -o $@ -llua5.4 -lm -lcrypto

fuzz: $(addprefix build/fuzz/,$(FUZZERS))
	@tools/run-fuzzers $(FUZZ_SECONDS) $(FUZZERS)

# Benchmark (bench/): raw libcurl, Lua 5.1 + lua-curl + lua-cjson (the do-it-yourself peer of
# W1), ghl under Lua 5.4 and LuaJIT, and the official Node SDK against one local nginx server
# (W5, W6: a limit per location and 50 ms latency; W6 also starts a redis-server on the
# loopback; W7: 5,000 upserts through ghl.job with its journal, and through client:batch
# alone); medians and ratios in bench/results.md, chart in bench/chart.png. BENCH_REPS (5),
# BENCH_REPS_W4 (1), BENCH_REPS_W5 / _W6 (3), BENCH_REPS_W7 (1) set the repetitions;
# BENCH_ONLY=W5,W6 runs only those.
# bench-smoke: tiny counts, 1 repetition, table in build/bench/smoke.md; node-sdk only if
# it is already installed; fails when a contender fails.
BENCH_RAW := build/bench/raw
BENCH_NODE_SDK := build/bench/node/node_modules/@gohighlevel/api-client/package.json

$(BENCH_RAW): bench/raw.c Makefile
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c99 -Wall -Wextra -Werror $(CURL_CFLAGS) bench/raw.c -o $@ $(CURL_LIBS)

$(BENCH_NODE_SDK):
	@mkdir -p build/bench/node
	npm install --no-audit --no-fund @gohighlevel/api-client@3.1.0 --prefix build/bench/node

bench: deps
	@tools/install-deps gnuplot:gnuplot-nox node:nodejs npm:npm
	@$(MAKE) --no-print-directory build LUA=lua5.4
	@$(MAKE) --no-print-directory build LUA=luajit
	@$(MAKE) --no-print-directory $(BENCH_RAW) $(BENCH_NODE_SDK)
	lua5.4 bench/run.lua

bench-smoke: deps
	@$(MAKE) --no-print-directory build LUA=lua5.4
	@$(MAKE) --no-print-directory build LUA=luajit
	@$(MAKE) --no-print-directory $(BENCH_RAW)
	lua5.4 bench/run.lua --smoke
