/*
 * ghl.crypto: webhook signature checks with OpenSSL's libcrypto, in its own
 * module so ghl.core stays free of dependencies.
 *
 *   local key, kind = crypto.load_key(text)   -- PEM, base64 SPKI DER, or a raw
 *                                             -- 32-byte Ed25519 key (base64 or hex)
 *   local ok, why = crypto.verify(key, data, signature_base64)
 *   local bytes = crypto.base64_decode(s)     -- strict; nil for garbage
 *   local hex = crypto.sha256_hex(data)       -- the dedupe key of an event without an id
 *
 *   -- test webhooks (ghl webhook sign): a key pair, and a body signed as GHL does
 *   local private_pem, public_raw = crypto.ed25519_keypair()
 *   local sig_raw, public_raw = crypto.ed25519_sign(private_pem, data)
 *   local s = crypto.base64_encode(bytes)
 *
 * Ed25519 signs the raw body (x-ghl-signature); the legacy scheme is
 * RSA-SHA256 with PKCS#1 v1.5 (x-wh-signature). Verification never raises
 * for bad input: it answers false and why.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compat.h"
#include "class.h"
#include "crypto.h"

#if defined(__GNUC__)
#define GHL_EXPORT __attribute__((visibility("default")))
#else
#define GHL_EXPORT
#endif

#define GHL_KEY_MT "ghl.PublicKey"
#define MAX_KEY_TEXT 16384
#define MAX_SIG_B64 4096
#define ED25519_LEN 32
#define ED25519_SIG_LEN 64

/***
 * Webhook signature checks with OpenSSL's libcrypto.
 *
 * Internal: ghl.webhook loads it when a delivery is verified; applications
 * use ghl.webhook. A separate module, so ghl.core needs no libcrypto.
 * Verification never raises for bad input: it answers false and why.
 * @internal ghl.crypto
 */
GHL_EXPORT int luaopen_ghl_crypto(lua_State *L);

typedef struct {
    EVP_PKEY *pkey;
    int ed25519;
} ghl_key;

/* --------------------------------------------------------------- base64 */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Strict base64 (standard or URL alphabet, padding optional, whitespace
 * skipped): 0 and the bytes in out, or -1 for anything else. */
int ghl_base64_decode(const char *s, size_t len, ghl_buf *out) {
    unsigned int acc = 0;
    int bits = 0, pad = 0;
    size_t i;
    ghl_buf_reset(out);
    if (ghl_buf_reserve(out, len * 3 / 4 + 3))
        return -1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int v;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad)
            return -1; /* data after padding */
        v = b64_value(c);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xFF);
        }
    }
    if (pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
        return -1; /* a dangling sextet or non-zero spare bits */
    out->data[out->len] = '\0';
    return 0;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* --------------------------------------------------------------- keys */

static ghl_key *check_key(lua_State *L, int idx) { return (ghl_key *)luaL_checkudata(L, idx, GHL_KEY_MT); }

static int key_gc(lua_State *L) {
    ghl_key *k = check_key(L, 1);
    if (k->pkey)
        EVP_PKEY_free(k->pkey);
    k->pkey = NULL;
    return 0;
}

static int key_tostring(lua_State *L) {
    ghl_key *k = check_key(L, 1);
    lua_pushfstring(L, "ghl.PublicKey (%s)", k->ed25519 ? "ed25519" : "rsa");
    return 1;
}

static const char *trimmed(const char *s, size_t *len) {
    while (*len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
        s++;
        (*len)--;
    }
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\n' || s[*len - 1] == '\r' || s[*len - 1] == '\t'))
        (*len)--;
    return s;
}

/* The key in text, or NULL; sets *why. */
static EVP_PKEY *parse_key(const char *text, size_t len, ghl_buf *scratch, const char **why) {
    EVP_PKEY *pkey = NULL;
    text = trimmed(text, &len);
    if (len == 0 || len > MAX_KEY_TEXT) {
        *why = "the key is empty or too long";
        return NULL;
    }
    if (len > 10 && memcmp(text, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(text, (int)len);
        if (!bio) {
            *why = "out of memory";
            return NULL;
        }
        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL); /* "BEGIN PUBLIC KEY" (SPKI), as GHL publishes */
        BIO_free(bio);
        if (!pkey)
            *why = "not a PEM public key (BEGIN PUBLIC KEY)";
        return pkey;
    }
    if (len == 64) { /* hex of a raw Ed25519 key */
        unsigned char raw[32];
        size_t i;
        for (i = 0; i < 32; i++) {
            int hi = hex_value((unsigned char)text[2 * i]), lo = hex_value((unsigned char)text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                break;
            raw[i] = (unsigned char)(hi << 4 | lo);
        }
        if (i == 32) {
            pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
            if (!pkey)
                *why = "not an Ed25519 key";
            return pkey;
        }
    }
    if (ghl_base64_decode(text, len, scratch) != 0) {
        *why = "not PEM, base64 or hex";
        return NULL;
    }
    if (scratch->len == 32) { /* raw Ed25519 key, base64 */
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, (unsigned char *)scratch->data, 32);
    } else { /* SubjectPublicKeyInfo DER */
        const unsigned char *p = (const unsigned char *)scratch->data;
        pkey = d2i_PUBKEY(NULL, &p, (long)scratch->len);
        if (pkey && p != (const unsigned char *)scratch->data + scratch->len) {
            EVP_PKEY_free(pkey); /* trailing bytes */
            pkey = NULL;
        }
    }
    if (!pkey)
        *why = "not an SPKI DER or raw Ed25519 key";
    return pkey;
}

/***
 * Load a public key. Accepted: PEM "BEGIN PUBLIC KEY" (SPKI), base64 SPKI
 * DER, or a raw 32-byte Ed25519 key in base64 or hex; at most 16 KiB of
 * text, surrounding whitespace ignored. Only Ed25519 keys and RSA keys of
 * 2048 bits or more are taken.
 * @function load_key
 * @tparam string text
 * @treturn[1] userdata the key (a ghl.PublicKey, opaque: pass it to `verify`)
 * @treturn[1] string "ed25519" or "rsa"
 * @treturn[2] nil
 * @treturn[2] string why
 */
static int load_key(lua_State *L) {
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *why = "unsupported key";
    ghl_buf scratch = {0, 0, 0};
    ghl_key *k = (ghl_key *)ghl_new_object(L, sizeof *k, 0, GHL_KEY_MT);
    int type;
    k->pkey = parse_key(text, len, &scratch, &why);
    ghl_buf_free(&scratch);
    if (!k->pkey) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    type = EVP_PKEY_base_id(k->pkey);
    if (type == EVP_PKEY_ED25519) {
        k->ed25519 = 1;
    } else if (type != EVP_PKEY_RSA || EVP_PKEY_bits(k->pkey) < 2048) {
        EVP_PKEY_free(k->pkey);
        k->pkey = NULL;
        lua_pushnil(L);
        lua_pushliteral(L, "only Ed25519 keys and RSA keys of 2048 bits or more verify GHL webhooks");
        return 2;
    }
    lua_pushstring(L, k->ed25519 ? "ed25519" : "rsa");
    return 2;
}

/***
 * Check a signature over data: Ed25519 over the raw body (x-ghl-signature),
 * or RSA-SHA256 with PKCS#1 v1.5 (the legacy x-wh-signature).
 * @function verify
 * @tparam userdata key from `load_key`
 * @tparam string data the signed bytes (the raw request body)
 * @tparam string signature the base64 signature (at most 4096 characters)
 * @treturn[1] boolean true
 * @treturn[2] boolean false
 * @treturn[2] string why: not base64, wrong length, or no match
 * @raise when key is not a key from `load_key` or data and signature are
 * not strings
 */
static int verify(lua_State *L) {
    ghl_key *k = check_key(L, 1);
    size_t dlen, slen;
    const char *data = luaL_checklstring(L, 2, &dlen);
    const char *sig = luaL_checklstring(L, 3, &slen);
    ghl_buf raw = {0, 0, 0};
    EVP_MD_CTX *ctx;
    int ok = 0;
    const char *why = NULL;
    if (!k->pkey)
        return luaL_error(L, "ghl.crypto: the key was freed");
    if (slen == 0 || slen > MAX_SIG_B64 || ghl_base64_decode(sig, slen, &raw) != 0 || raw.len == 0) {
        why = "the signature is not base64";
    } else if (k->ed25519 && raw.len != 64) {
        why = "an Ed25519 signature has 64 bytes";
    } else if ((ctx = EVP_MD_CTX_new()) == NULL) {
        why = "out of memory";
    } else {
        if (EVP_DigestVerifyInit(ctx, NULL, k->ed25519 ? NULL : EVP_sha256(), NULL, k->pkey) == 1 &&
            EVP_DigestVerify(ctx, (unsigned char *)raw.data, raw.len, (const unsigned char *)data, dlen) == 1)
            ok = 1;
        else
            why = "the signature does not match the body";
        EVP_MD_CTX_free(ctx);
    }
    ghl_buf_free(&raw);
    lua_pushboolean(L, ok);
    if (ok)
        return 1;
    lua_pushstring(L, why);
    return 2;
}

/***
 * Strict base64 decoding: the standard or URL-safe alphabet, padding
 * optional, whitespace skipped; anything else (bad characters, data after
 * padding, non-zero spare bits) gives nil.
 * @function base64_decode
 * @tparam string s
 * @treturn[1] string the bytes
 * @treturn[2] nil when s is not base64
 */
static int base64_decode_l(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ghl_buf out = {0, 0, 0};
    if (ghl_base64_decode(s, len, &out) != 0)
        lua_pushnil(L);
    else
        lua_pushlstring(L, out.data ? out.data : "", out.len);
    ghl_buf_free(&out);
    return 1;
}

/***
 * SHA-256 of the bytes, in lower-case hex: what ghl.webhook calls a
 * delivery that carries no webhookId.
 * @function sha256_hex
 * @tparam string data
 * @treturn string 64 hex digits
 */
static int sha256_hex_l(lua_State *L) {
    static const char hex[] = "0123456789abcdef";
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    char out[2 * EVP_MAX_MD_SIZE];
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        return luaL_error(L, "ghl.crypto: SHA-256 failed");
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    lua_pushlstring(L, out, 2 * (size_t)n);
    return 1;
}

/* ------------------------------------------------ signing (test webhooks) */

/* A private key from a PEM file never asks for a passphrase on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* An Ed25519 private key from PEM (PKCS#8 "BEGIN PRIVATE KEY", as openssl
 * genpkey writes it) or its 32-byte seed in base64 or hex; NULL and *why. */
static EVP_PKEY *parse_private(const char *text, size_t len, const char **why) {
    EVP_PKEY *pkey = NULL;
    ghl_buf raw = {0, 0, 0};
    text = trimmed(text, &len);
    if (len == 0 || len > MAX_KEY_TEXT) {
        *why = "the private key is empty or too long";
        return NULL;
    }
    if (len > 10 && memcmp(text, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(text, (int)len);
        if (!bio) {
            *why = "out of memory";
            return NULL;
        }
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        if (!pkey) {
            *why = "not a PEM private key (BEGIN PRIVATE KEY, without a passphrase)";
            return NULL;
        }
    } else {
        unsigned char seed[ED25519_LEN];
        size_t i = 0;
        if (len == 2 * ED25519_LEN) {
            for (i = 0; i < ED25519_LEN; i++) {
                int hi = hex_value((unsigned char)text[2 * i]), lo = hex_value((unsigned char)text[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    break;
                seed[i] = (unsigned char)(hi << 4 | lo);
            }
        }
        if (i != ED25519_LEN) {
            if (ghl_base64_decode(text, len, &raw) != 0 || raw.len != ED25519_LEN) {
                ghl_buf_free(&raw);
                *why = "not a PEM private key or a 32-byte Ed25519 seed (base64 or hex)";
                return NULL;
            }
            memcpy(seed, raw.data, ED25519_LEN);
            OPENSSL_cleanse(raw.data, raw.len);
            ghl_buf_free(&raw);
        }
        pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, ED25519_LEN);
        OPENSSL_cleanse(seed, sizeof seed);
        if (!pkey) {
            *why = "not an Ed25519 seed";
            return NULL;
        }
    }
    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        *why = "only Ed25519 private keys sign test webhooks";
        return NULL;
    }
    return pkey;
}

/* Pushes the raw 32-byte public key of pkey; 0, or -1. */
static int push_public(lua_State *L, EVP_PKEY *pkey) {
    unsigned char pub[ED25519_LEN];
    size_t n = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(pkey, pub, &n) != 1 || n != ED25519_LEN)
        return -1;
    lua_pushlstring(L, (const char *)pub, n);
    return 0;
}

/***
 * A new Ed25519 key pair, to sign test webhooks with (`ghl webhook sign`).
 * @function ed25519_keypair
 * @treturn string the private key, PEM (PKCS#8 "BEGIN PRIVATE KEY", as
 * `openssl genpkey -algorithm ed25519` writes it)
 * @treturn string the public key: its raw 32 bytes
 * @raise when libcrypto cannot make a key
 */
static int ed25519_keypair(lua_State *L) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    long n = 0;
    int ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pkey) == 1;
    if (ctx)
        EVP_PKEY_CTX_free(ctx);
    if (ok) {
        bio = BIO_new(BIO_s_mem());
        ok = bio && PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
             (n = BIO_get_mem_data(bio, &pem)) > 0 && pem;
    }
    if (ok) {
        lua_pushlstring(L, pem, (size_t)n);
        OPENSSL_cleanse(pem, (size_t)n);
        ok = push_public(L, pkey) == 0;
    }
    if (bio)
        BIO_free(bio);
    if (pkey)
        EVP_PKEY_free(pkey);
    if (!ok)
        return luaL_error(L, "ghl.crypto: libcrypto could not make an Ed25519 key");
    return 2;
}

/***
 * Sign data with an Ed25519 private key, as GHL signs x-ghl-signature:
 * over the raw bytes, no digest first.
 * @function ed25519_sign
 * @tparam string private the private key: PEM (PKCS#8, no passphrase), or
 * the 32-byte seed in base64 or hex
 * @tparam string data the bytes to sign (the request body)
 * @treturn[1] string the signature: 64 raw bytes (base64 it for the header)
 * @treturn[1] string the public key: its raw 32 bytes
 * @treturn[2] nil
 * @treturn[2] string why the key was refused
 */
static int ed25519_sign(lua_State *L) {
    size_t klen, dlen, siglen = ED25519_SIG_LEN;
    const char *text = luaL_checklstring(L, 1, &klen);
    const char *data = luaL_checklstring(L, 2, &dlen);
    const char *why = "unsupported key";
    unsigned char sig[ED25519_SIG_LEN];
    EVP_MD_CTX *ctx;
    EVP_PKEY *pkey = parse_private(text, klen, &why);
    int ok;
    if (!pkey) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, dlen) == 1 && siglen == ED25519_SIG_LEN;
    if (ctx)
        EVP_MD_CTX_free(ctx);
    if (ok) {
        lua_pushlstring(L, (const char *)sig, siglen);
        ok = push_public(L, pkey) == 0;
    }
    EVP_PKEY_free(pkey);
    if (!ok)
        return luaL_error(L, "ghl.crypto: libcrypto could not sign");
    return 2;
}

/***
 * Standard base64 with padding, on one line.
 * @function base64_encode
 * @tparam string bytes
 * @treturn string
 */
static int base64_encode_l(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    ghl_buf out = {0, 0, 0};
    int n;
    if (len > 0x3fffffff)
        return luaL_error(L, "ghl.crypto: too long to encode");
    if (ghl_buf_reserve(&out, (len + 2) / 3 * 4 + 1))
        return luaL_error(L, "ghl.crypto: out of memory");
    n = EVP_EncodeBlock((unsigned char *)out.data, (const unsigned char *)s, (int)len);
    lua_pushlstring(L, out.data, n > 0 ? (size_t)n : 0);
    ghl_buf_free(&out);
    return 1;
}

GHL_EXPORT int luaopen_ghl_crypto(lua_State *L) {
    static const luaL_Reg funcs[] = {{"load_key", load_key},
                                     {"verify", verify},
                                     {"base64_decode", base64_decode_l},
                                     {"base64_encode", base64_encode_l},
                                     {"sha256_hex", sha256_hex_l},
                                     {"ed25519_keypair", ed25519_keypair},
                                     {"ed25519_sign", ed25519_sign},
                                     {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", key_gc}, {"__tostring", key_tostring}, {NULL, NULL}};
    ghl_new_class(L, GHL_KEY_MT, meta, NULL, 0);
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
