/* raw: the floor of the benchmark. Plain libcurl, no JSON decoding.
 *
 *   raw w1 <base_url> <n>                n sequential GET /contacts/{id}, ONE reused easy handle
 *   raw w2 <base_url> <n>                POST /contacts/search by pages of 100 over n contacts:
 *                                        page 1, then the last "searchAfter":[...] found in the text
 *   raw w3 <base_url> <n> <concurrency>  n GET /contacts/{id} through curl multi, <concurrency>
 *                                        easy handles, each reused
 *   raw --version                        the libcurl version
 *
 * Sends the same headers the libraries send (Authorization: Bearer, Version, Accept, and
 * Content-Type on POST). Prints one line: ok= failed= items= requests= elapsed_ms=.
 * Exits 1 when a call failed or the walk did not see n contacts. */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN "pit-bench-00000000-0000-4000-8000-000000000000"
#define LOCATION_ID "LocBench000000000001"
#define PAGE_LIMIT 100

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct curl_slist *headers(int post)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Authorization: Bearer " TOKEN);
    h = curl_slist_append(h, "Version: 2021-07-28");
    h = curl_slist_append(h, "Accept: application/json");
    if (post)
        h = curl_slist_append(h, "Content-Type: application/json");
    return h;
}

static CURL *easy(buf_t *b)
{
    CURL *e = curl_easy_init();
    if (!e) {
        fprintf(stderr, "raw: curl_easy_init failed\n");
        exit(2);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*"); /* loopback only, whatever the environment says */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)b);
    return e;
}

static void contact_url(char *out, size_t size, const char *base, long i)
{
    snprintf(out, size, "%s/contacts/Ct%018ld", base, i);
}

static int report(long ok, long failed, long items, long requests, double t0)
{
    printf("ok=%ld failed=%ld items=%ld requests=%ld elapsed_ms=%.1f\n", ok, failed, items, requests,
           now_ms() - t0);
    return failed ? 1 : 0;
}

static int w1(const char *base, long n)
{
    buf_t b = {0};
    CURL *e = easy(&b);
    struct curl_slist *h = headers(0);
    char url[512];
    long ok = 0, failed = 0, status = 0;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    double t0 = now_ms();
    for (long i = 1; i <= n; i++) {
        contact_url(url, sizeof url, base, i);
        curl_easy_setopt(e, CURLOPT_URL, url);
        b.len = 0;
        CURLcode rc = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        /* b.len is set by the write callback during the perform */
        /* cppcheck-suppress knownConditionTrueFalse */
        if (rc == CURLE_OK && status == 200 && b.len > 0)
            ok++;
        else {
            if (failed++ < 3)
                fprintf(stderr, "raw: GET %s: %s, status %ld\n", url, curl_easy_strerror(rc), status);
        }
    }
    int r = report(ok, failed, ok, n, t0);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    free(b.p);
    return r;
}

/* the number of items on a page and the last "searchAfter":[...] (copied into `after`) */
static long scan_page(const buf_t *b, char *after, size_t size, long *total)
{
    static const char key[] = "\"searchAfter\":[";
    long items = 0;
    const char *p = b->p, *last = NULL;
    while ((p = strstr(p, key)) != NULL) {
        items++;
        last = p + sizeof key - 1;
        p = last;
    }
    after[0] = '\0';
    if (last) {
        const char *end = strchr(last, ']');
        if (end && (size_t)(end - last) < size) {
            memcpy(after, last, (size_t)(end - last));
            after[end - last] = '\0';
        }
    }
    *total = -1;
    const char *t = NULL;
    for (p = b->p; (p = strstr(p, "\"total\":")) != NULL; p += 8)
        t = p + 8;
    if (t)
        *total = strtol(t, NULL, 10);
    return items;
}

static int w2(const char *base, long n)
{
    buf_t b = {0};
    CURL *e = easy(&b);
    struct curl_slist *h = headers(1);
    char url[512], body[1024], after[256];
    long ok = 0, failed = 0, items = 0, requests = 0, status = 0, total = -1;
    snprintf(url, sizeof url, "%s/contacts/search", base);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    snprintf(body, sizeof body, "{\"locationId\":\"%s\",\"pageLimit\":%d,\"page\":1}", LOCATION_ID, PAGE_LIMIT);
    double t0 = now_ms();
    for (;;) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        b.len = 0;
        requests++;
        CURLcode rc = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        /* cppcheck-suppress knownConditionTrueFalse ; b.len is set by the write callback */
        if (rc != CURLE_OK || status != 200 || b.len == 0) {
            fprintf(stderr, "raw: POST /contacts/search: %s, status %ld\n", curl_easy_strerror(rc), status);
            failed++;
            break;
        }
        ok++;
        long got = scan_page(&b, after, sizeof after, &total);
        items += got;
        if (got < PAGE_LIMIT || (total >= 0 && items >= total))
            break;
        if (!after[0]) {
            fprintf(stderr, "raw: the last contact has no searchAfter\n");
            failed++;
            break;
        }
        snprintf(body, sizeof body, "{\"locationId\":\"%s\",\"pageLimit\":%d,\"searchAfter\":[%s]}", LOCATION_ID,
                 PAGE_LIMIT, after);
    }
    if (!failed && items != n) {
        fprintf(stderr, "raw: saw %ld contacts, expected %ld\n", items, n);
        failed++;
    }
    int r = report(ok, failed, items, requests, t0);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    free(b.p);
    return r;
}

typedef struct {
    CURL *e;
    buf_t b;
    char url[512];
} slot_t;

static int w3(const char *base, long n, long conc)
{
    CURLM *m = curl_multi_init();
    struct curl_slist *h = headers(0);
    slot_t *slots = calloc((size_t)conc, sizeof *slots);
    long next = 1, done = 0, ok = 0, failed = 0;
    int running = 0;
    if (!m || !slots)
        return 2;
    double t0 = now_ms();
    for (long k = 0; k < conc && next <= n; k++, next++) {
        slot_t *s = &slots[k];
        s->e = easy(&s->b);
        curl_easy_setopt(s->e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(s->e, CURLOPT_PRIVATE, (void *)s);
        contact_url(s->url, sizeof s->url, base, next);
        curl_easy_setopt(s->e, CURLOPT_URL, s->url);
        curl_multi_add_handle(m, s->e);
    }
    while (done < n) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot_t *s;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result == CURLE_OK && status == 200 && s->b.len > 0)
                ok++;
            else if (failed++ < 3)
                fprintf(stderr, "raw: GET %s: %s, status %ld\n", s->url, curl_easy_strerror(msg->data.result),
                        status);
            done++;
            curl_multi_remove_handle(m, s->e);
            if (next <= n) { /* the same handle (and its connection) for the next request */
                s->b.len = 0;
                contact_url(s->url, sizeof s->url, base, next++);
                curl_easy_setopt(s->e, CURLOPT_URL, s->url);
                curl_multi_add_handle(m, s->e);
            }
        }
        if (done < n)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    int r = report(ok, failed, ok, n, t0);
    for (long k = 0; k < conc; k++) {
        if (slots[k].e)
            curl_easy_cleanup(slots[k].e);
        free(slots[k].b.p);
    }
    free(slots);
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    return r;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", curl_version());
        return 0;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: raw w1|w2|w3 <base_url> <n> [concurrency]\n");
        return 2;
    }
    const char *w = argv[1], *base = argv[2];
    long n = strtol(argv[3], NULL, 10);
    long conc = argc > 4 ? strtol(argv[4], NULL, 10) : 20;
    if (n < 1 || conc < 1) {
        fprintf(stderr, "raw: n and concurrency must be at least 1\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int r;
    if (strcmp(w, "w1") == 0)
        r = w1(base, n);
    else if (strcmp(w, "w2") == 0)
        r = w2(base, n);
    else if (strcmp(w, "w3") == 0)
        r = w3(base, n, conc);
    else {
        fprintf(stderr, "raw: unknown workload %s\n", w);
        r = 2;
    }
    curl_global_cleanup();
    return r;
}
