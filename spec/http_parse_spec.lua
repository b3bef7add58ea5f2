-- The C core's HTTP parsers used by the nginx transport: pure, no network.
local core = require "ghl.core"

describe("http parsing", function()
  it("reads status lines", function()
    assert.are.equal(200, core.parse_status_line("HTTP/1.1 200 OK"))
    assert.are.equal(404, core.parse_status_line("HTTP/1.0 404 Not Found"))
    assert.are.equal(204, core.parse_status_line("HTTP/1.1 204"))
    for _, bad in ipairs{ "", "HTTP/2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 abc", "http/1.1 200 OK", "HTTP/1.1 099 x" } do
      assert.is_nil((core.parse_status_line(bad)), bad)
    end
  end)

  it("reads chunk sizes, extensions ignored, absurd sizes refused", function()
    assert.are.equal(0, core.parse_chunk_size("0"))
    assert.are.equal(26, core.parse_chunk_size("1a"))
    assert.are.equal(4096, core.parse_chunk_size("1000;name=value"))
    assert.are.equal(255, core.parse_chunk_size("FF "))
    for _, bad in ipairs{ "", "zz", "-1", "12345678901", "1a b" } do
      assert.is_nil((core.parse_chunk_size(bad)), bad)
    end
  end)

  it("reads URLs into scheme, host, port and request target", function()
    local u = core.parse_url("https://services.leadconnectorhq.com/contacts/x?a=1")
    assert.are.same({ scheme = "https", host = "services.leadconnectorhq.com", port = 443,
                      path = "/contacts/x?a=1" }, u)
    assert.are.same({ scheme = "http", host = "127.0.0.1", port = 8080, path = "/" },
      core.parse_url("http://127.0.0.1:8080"))
    assert.are.same({ scheme = "http", host = "::1", port = 9, path = "/x" }, core.parse_url("http://[::1]:9/x"))
    for _, bad in ipairs{ "ftp://x", "http://", "http://[]", "http://a@b/", "http://h:0/", "http://h:99999",
                          "http://h/p#frag", "http://h/a b", "http://h/\v", "http://h\r\nX: y/", "https://h\t/" } do
      assert.is_nil((core.parse_url(bad)), bad)
    end
  end)

  it("reads a response head into lower-case names, repeats joined", function()
    local hd = core.parse_headers("HTTP/1.1 200 OK\r\nContent-Type: a\r\nSet-Cookie: x\r\nset-cookie: y\r\n"
      .. "NoColon\r\n: empty\r\n\r\nAfter: ignored")
    assert.are.same({ ["content-type"] = "a", ["set-cookie"] = "x, y" }, hd)
  end)
end)
