/*
 * What the file token store needs from the OS and Lua lacks: an exclusive
 * lock (flock, released by the kernel if the holder dies, so a crash never
 * leaves a stale lock) and an atomic write (temp file with mode 0600,
 * fsync, rename over the old file, fsync of the folder).
 *
 *   local lock, err = core.file_lock(path, timeout_ms)   -- nil, "timeout"
 *   lock:unlock()                                        -- also __gc
 *   local ok, err = core.write_file(path, data)          -- atomic, 0600
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* flock */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ghl.h"
#include "class.h"

#define GHL_FILELOCK_MT "ghl.FileLock"

typedef struct {
    int fd;
} ghl_filelock;

static int push_errno(lua_State *L, const char *what, const char *path) {
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
    return 2;
}

/* core.file_lock(path, timeout_ms) -> lock | nil, err */
static int file_lock(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    double timeout = luaL_optnumber(L, 2, 30000), waited = 0;
    ghl_filelock *lk = (ghl_filelock *)lua_newuserdatauv(L, sizeof *lk, 0);
    lk->fd = -1;
    luaL_setmetatable(L, GHL_FILELOCK_MT);
    lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lk->fd < 0)
        return push_errno(L, "cannot open lock file", path);
    for (;;) {
        struct timespec ts = {0, 10 * 1000000L};
        if (flock(lk->fd, LOCK_EX | LOCK_NB) == 0)
            return 1;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return push_errno(L, "cannot lock", path);
        if (waited >= timeout) {
            close(lk->fd);
            lk->fd = -1;
            lua_pushnil(L);
            lua_pushfstring(L, "timed out waiting for the lock on %s", path);
            return 2;
        }
        nanosleep(&ts, NULL); /* poll: flock has no timeout of its own */
        waited += 10;
    }
}

static int file_unlock(lua_State *L) {
    ghl_filelock *lk = (ghl_filelock *)luaL_checkudata(L, 1, GHL_FILELOCK_MT);
    if (lk->fd >= 0) {
        flock(lk->fd, LOCK_UN);
        close(lk->fd);
        lk->fd = -1;
    }
    return 0;
}

/* core.write_file(path, data) -> true | nil, err. Readers see the old
 * content or the new one, never a mix; a crash leaves one of the two. */
static int write_file(lua_State *L) {
    size_t len, off = 0;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    const char *slash;
    int fd, dfd;
    lua_pushfstring(L, "%s.tmp.%d", path, (int)getpid());
    {
        const char *tmp = lua_tostring(L, -1);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            return push_errno(L, "cannot write", tmp);
        fchmod(fd, 0600); /* whatever the umask: tokens are secrets */
        while (off < len) {
            ssize_t n = write(fd, data + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int e = errno;
                close(fd);
                unlink(tmp);
                errno = e;
                return push_errno(L, "cannot write", tmp);
            }
            off += (size_t)n;
        }
        if (fsync(fd) != 0 || close(fd) != 0) {
            unlink(tmp);
            return push_errno(L, "cannot flush", tmp);
        }
        if (rename(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            errno = e;
            return push_errno(L, "cannot replace", path);
        }
    }
    /* make the rename itself durable */
    slash = strrchr(path, '/');
    if (slash) {
        lua_pushlstring(L, path, (size_t)(slash - path) + (slash == path));
        dfd = open(lua_tostring(L, -1), O_RDONLY | O_CLOEXEC);
    } else {
        dfd = open(".", O_RDONLY | O_CLOEXEC);
    }
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* The Lua API registered here is documented (LDoc) in core.c. */
void ghl_fileio_open(lua_State *L) {
    static const luaL_Reg meta[] = {{"__gc", file_unlock}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"unlock", file_unlock}, {NULL, NULL}};
    ghl_new_class(L, GHL_FILELOCK_MT, meta, methods, 0);
    lua_pushcfunction(L, file_lock);
    lua_setfield(L, -2, "file_lock");
    lua_pushcfunction(L, write_file);
    lua_setfield(L, -2, "write_file");
}
