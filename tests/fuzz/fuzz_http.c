/* fuzz_http.c - libFuzzer target for the HTTP request parser of sim/http.c:
 * http_parse_request (the head parser plus the body rules, exactly what the
 * bufferevent path of the server calls on the bytes it has received),
 * http_header, http_query and http_parse_listen.
 *
 * Input: byte 0 picks the body limit (max_body = 2^(byte % 32) bytes), the
 * rest is what a client sent. Invariants: a decision never depends on bytes
 * after the head; a parsed head holds NUL-terminated fields within their
 * arrays; an accepted request never reads more body than the limit. */
#include <string.h>

#include "fuzz_common.h"
#include "sim/http.h"

static int has_nul(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

static void check_head(const http_head *h)
{
    fuzz_assert(has_nul(h->method, sizeof h->method) && h->method[0] != '\0');
    fuzz_assert(has_nul(h->path, sizeof h->path) && h->path[0] == '/');
    fuzz_assert(has_nul(h->query, sizeof h->query));
    fuzz_assert(h->minor >= 0 && h->minor <= 9);
    fuzz_assert(h->nheaders >= 0 && h->nheaders <= HTTP_MAX_HEADERS);
    for (int i = 0; i < h->nheaders; i++) {
        fuzz_assert(has_nul(h->names[i], sizeof h->names[i]) && h->names[i][0] != '\0');
        fuzz_assert(has_nul(h->values[i], sizeof h->values[i]));
        fuzz_assert(http_header(h, h->names[i]) != NULL);
    }
    fuzz_assert(h->content_length >= -1);
    fuzz_assert(h->keep_alive == 0 || h->keep_alive == 1);
    char out[64];
    if (http_query(h->query, "model", out, sizeof out))
        fuzz_assert(strlen(out) < sizeof out && !strchr(out, '&'));
    if (http_query(h->query, "", out, sizeof out))
        fuzz_assert(strlen(out) < sizeof out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const size_t max_body = (size_t)1 << (data[0] % 32);
    const char *buf = (const char *)data + 1;
    const size_t len = size - 1;
    static http_head h, h2; /* 120 kB each: not on the stack */
    http_request r, r2;
    if (!http_parse_request(buf, len, max_body, &h, &r)) {
        fuzz_assert(len < HTTP_HEAD_MAX);
    } else {
        fuzz_assert(r.status == 0 || (r.status >= 400 && r.status <= 505));
        fuzz_assert(has_nul(r.err, sizeof r.err));
        if (r.status)
            fuzz_assert(r.err[0] != '\0');
        if (r.have_head) {
            fuzz_assert(r.head_len >= 4 && (size_t)r.head_len <= len &&
                        r.head_len <= HTTP_HEAD_MAX);
            fuzz_assert(!memcmp(buf + r.head_len - 4, "\r\n\r\n", 4));
            check_head(&h);
            if (r.status == 0) {
                fuzz_assert(r.body_len <= max_body && !h.chunked);
                fuzz_assert(r.body_len == (size_t)(h.content_length > 0 ? h.content_length : 0));
            } else {
                fuzz_assert(r.status == 411 || r.status == 413);
            }
            /* the same decision from the head alone: nothing after it counts */
            fuzz_assert(http_parse_request(buf, (size_t)r.head_len, max_body, &h2, &r2) == 1);
            fuzz_assert(r2.status == r.status && r2.head_len == r.head_len &&
                        r2.body_len == r.body_len && !memcmp(&h, &h2, sizeof h));
        } else {
            fuzz_assert(r.status != 0 && r.status != 411 && r.status != 413);
        }
    }
    /* the same bytes as a --listen value */
    char s[256], host[64];
    size_t n = len < sizeof s - 1 ? len : sizeof s - 1;
    memcpy(s, buf, n);
    s[n] = '\0';
    sim_ctx ctx;
    if (fuzz_ctx_init(&ctx) != SIM_OK)
        return 0;
    int port = -1;
    if (http_parse_listen(&ctx, "listen", s, host, sizeof host, &port) == SIM_OK)
        fuzz_assert(port >= 0 && port <= 65535 && has_nul(host, sizeof host));
    fuzz_ctx_done(&ctx);
    return 0;
}
