/*
 * What the file token store needs from the OS and Lua lacks: an exclusive
 * lock (flock, released by the kernel if the holder dies, so a crash never
 * leaves a stale lock), an atomic write (a new temp file with mode 0600,
 * fsync, rename over the old file, fsync of the folder) and a check that
 * nobody else can write to the folder.
 *
 *   local lock, err = core.file_lock(path, timeout_ms)   -- nil, "timeout"
 *   lock:unlock()                                        -- also __gc
 *   local ok, err = core.write_file(path, data)          -- atomic, 0600
 *   local ok, err = core.private_dir(path)               -- the folder of path
 *   local ap, dropped = core.appender(path)              -- nil, err, "locked"
 *   ap:append(data)                                      -- write + fdatasync
 *   ap:close()                                           -- also __gc
 *
 * The appender is for journals (ghl.job): a file that only grows, one line
 * a record, each record on disk before append returns. It holds an
 * exclusive flock for as long as it is open (a second runner is refused at
 * once: "locked"), and on open cuts a torn last line (a process killed
 * in the middle of a write, a power cut) back to the last newline, so the
 * next record never glues onto a fragment.
 *
 * Someone who can write to the folder must not get the tokens: the temp
 * file is made with mkstemp (O_EXCL: a file or symlink planted under its
 * name is never opened, and its name cannot be guessed), lock files are
 * opened with O_NOFOLLOW (a planted symlink is refused, never followed),
 * and the store refuses a folder others can write to unless told so.
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
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ghl.h"
#include "class.h"

#define GHL_FILELOCK_MT "ghl.FileLock"
#define GHL_APPENDER_MT "ghl.Appender"

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
    lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (lk->fd < 0) {
        if (errno == ELOOP)
            return push_errno(L, "refusing a lock file that is a symbolic link:", path);
        return push_errno(L, "cannot open lock file", path);
    }
    {
        struct stat st;
        if (fstat(lk->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(lk->fd);
            lk->fd = -1;
            lua_pushnil(L);
            lua_pushfstring(L, "refusing a lock file that is not a regular file: %s", path);
            return 2;
        }
    }
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
    /* a name nobody can guess or plant: mkstemp opens with O_EXCL, mode 0600 */
    lua_pushfstring(L, "%s.tmp.XXXXXX", path);
    {
        /* mkstemp writes the name into its argument: a buffer the GC frees */
        ghl_buf *name = ghl_scratch_new(L);
        char *tmp;
        size_t tlen;
        const char *t = lua_tolstring(L, -2, &tlen);
        if (ghl_buf_add(name, t, tlen + 1))
            return luaL_error(L, "ghl: out of memory");
        tmp = name->data;
        fd = mkstemp(tmp);
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
        /* rename replaces the name itself: a symlink planted as `path` is
         * replaced, never followed */
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

/* core.private_dir(path) -> true | nil, err: whether only its owner (this
 * user, or root) can write to the folder of path. A folder writable by
 * group or others lets them plant files and links under the store's names
 * (the sticky bit of /tmp stops them replacing ours, but not planting). */
static int private_dir(lua_State *L) {
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len), *slash = strrchr(path, '/');
    struct stat st;
    const char *dir;
    if (slash)
        lua_pushlstring(L, path, slash == path ? 1 : (size_t)(slash - path));
    else
        lua_pushliteral(L, ".");
    dir = lua_tostring(L, -1);
    if (stat(dir, &st) != 0)
        return push_errno(L, "cannot read the folder", dir);
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "the folder %s belongs to another user (uid %d), who could take the tokens", dir,
                        (int)st.st_uid);
        return 2;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        snprintf(mode, sizeof mode, "%o", (unsigned)(st.st_mode & 07777)); /* lua_pushfstring has no %o */
        lua_pushnil(L);
        lua_pushfstring(L, "the folder %s can be written by %s (mode %s), who could take the tokens", dir,
                        (st.st_mode & S_IWOTH) ? "every user" : "its group", mode);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* appender ------------------------------------------------------------ */

typedef struct {
    int fd;
} ghl_appender;

/* fsync of the folder of path: a new file's name is durable too */
static void sync_dir(lua_State *L, const char *path) {
    const char *slash = strrchr(path, '/');
    int dfd;
    if (slash) {
        lua_pushlstring(L, path, (size_t)(slash - path) + (slash == path));
        dfd = open(lua_tostring(L, -1), O_RDONLY | O_CLOEXEC);
        lua_pop(L, 1);
    } else {
        dfd = open(".", O_RDONLY | O_CLOEXEC);
    }
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

/* The length of the file up to and with its last newline (0: none). */
static int complete_length(int fd, off_t size, off_t *out) {
    char block[4096];
    off_t end = size;
    while (end > 0) {
        off_t start = end > (off_t)sizeof block ? end - (off_t)sizeof block : 0;
        size_t want = (size_t)(end - start);
        ssize_t n = pread(fd, block, want, start);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)want)
            return -1;
        while (n > 0) {
            if (block[n - 1] == '\n') {
                *out = start + n;
                return 0;
            }
            n--;
        }
        end = start;
    }
    *out = 0;
    return 0;
}

static void appender_fail(ghl_appender *ap) {
    if (ap->fd >= 0) {
        close(ap->fd); /* releases the lock too */
        ap->fd = -1;
    }
}

/* core.appender(path) -> appender, dropped_bytes | nil, err[, "locked"] */
static int appender_open(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    ghl_appender *ap = (ghl_appender *)ghl_new_object(L, sizeof *ap, 0, GHL_APPENDER_MT);
    struct stat st;
    off_t keep = 0;
    ap->fd = -1;
    ap->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (ap->fd < 0) {
        if (errno == ELOOP)
            return push_errno(L, "refusing a journal that is a symbolic link:", path);
        return push_errno(L, "cannot open", path);
    }
    if (fstat(ap->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        appender_fail(ap);
        lua_pushnil(L);
        lua_pushfstring(L, "refusing a journal that is not a regular file: %s", path);
        return 2;
    }
    if (flock(ap->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        appender_fail(ap);
        lua_pushnil(L);
        if (e == EWOULDBLOCK) {
            lua_pushfstring(L, "%s is in use by another runner (its lock is held)", path);
            lua_pushliteral(L, "locked");
            return 3;
        }
        lua_pushfstring(L, "cannot lock %s: %s", path, strerror(e));
        return 2;
    }
    if (st.st_size > 0 && complete_length(ap->fd, st.st_size, &keep) != 0) {
        int e = errno;
        appender_fail(ap);
        errno = e;
        return push_errno(L, "cannot read", path);
    }
    if (keep < st.st_size) { /* a torn last line: cut it */
        if (ftruncate(ap->fd, keep) != 0 || fsync(ap->fd) != 0) {
            int e = errno;
            appender_fail(ap);
            errno = e;
            return push_errno(L, "cannot repair", path);
        }
    }
    if (st.st_size == 0)
        sync_dir(L, path); /* perhaps just created */
    lua_pushinteger(L, (lua_Integer)(st.st_size - keep));
    return 2;
}

static ghl_appender *check_appender(lua_State *L) {
    ghl_appender *ap = (ghl_appender *)luaL_checkudata(L, 1, GHL_APPENDER_MT);
    if (ap->fd < 0)
        luaL_error(L, "ghl: the journal file is closed");
    return ap;
}

/* appender:append(data) -> true | nil, err. On disk when it returns; a
 * failed write is cut back off, so the file holds whole records only. */
static int appender_append(lua_State *L) {
    ghl_appender *ap = check_appender(L);
    size_t len, off = 0;
    const char *data = luaL_checklstring(L, 2, &len);
    off_t before = lseek(ap->fd, 0, SEEK_END);
    while (off < len) {
        ssize_t n = write(ap->fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            if (before >= 0) {
                int cut = ftruncate(ap->fd, before); /* when it fails too, the next open cuts it */
                (void)cut;
            }
            lua_pushnil(L);
            lua_pushfstring(L, "cannot write the journal: %s", strerror(e));
            return 2;
        }
        off += (size_t)n;
    }
    if (fdatasync(ap->fd) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot flush the journal: %s", strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int appender_close(lua_State *L) {
    ghl_appender *ap = (ghl_appender *)luaL_checkudata(L, 1, GHL_APPENDER_MT);
    if (ap->fd >= 0) {
        flock(ap->fd, LOCK_UN);
        close(ap->fd);
        ap->fd = -1;
    }
    return 0;
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
    lua_pushcfunction(L, private_dir);
    lua_setfield(L, -2, "private_dir");
    {
        static const luaL_Reg ameta[] = {{"__gc", appender_close}, {NULL, NULL}};
        static const luaL_Reg amethods[] = {{"append", appender_append}, {"close", appender_close}, {NULL, NULL}};
        ghl_new_class(L, GHL_APPENDER_MT, ameta, amethods, 0);
    }
    lua_pushcfunction(L, appender_open);
    lua_setfield(L, -2, "appender");
}
