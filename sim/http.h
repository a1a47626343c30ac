/* http.h - a small HTTP/1.1 server on libevent bufferevents, shared by the
 * classification service (sim/server.h) and the training monitor
 * (sim/monitor.h).
 *
 * Why not evhttp: its built-in errors (oversized bodies, bad requests) are
 * HTML pages, and the services answer every error as JSON {"error": ...}.
 * This layer reads one request at a time per connection (keep-alive, no
 * pipelining), with Content-Length bodies only, a head limit, a body limit
 * checked against Content-Length before anything is read (413), and a
 * read timeout (408). It never touches the file system.
 *
 * Threads: the event loop runs in whatever thread calls http_run. The
 * handler is called in that thread; it answers with http_respond either
 * there or later from any other thread (a worker), which hands the
 * response back to the loop. The request head and body stay valid until
 * http_respond is called. */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>

#include "sim/ctx.h"

#define HTTP_HEAD_MAX 16384 /* request line plus headers */
#define HTTP_MAX_HEADERS 48

typedef struct {
    char method[16];
    char path[2048];  /* the request target before '?' (not decoded) */
    char query[2048]; /* after '?', "" if none */
    int minor;        /* HTTP/1.<minor> */
    int nheaders;
    char names[HTTP_MAX_HEADERS][64];
    char values[HTTP_MAX_HEADERS][512];
    long long content_length; /* -1 when absent */
    int keep_alive;           /* 1.1 default, Connection: close / keep-alive */
    int expect_continue;
    int chunked; /* Transfer-Encoding present (not supported: 411) */
} http_head;

/* Parse a request head in buf[0..len). Returns the bytes the head takes
 * (including the blank line) when complete, 0 when more bytes are needed,
 * or -status (400, 414, 431, 501, 505) with *err set to a message. */
long http_parse_head(const char *buf, size_t len, http_head *h, const char **err);
/* What the server does with a request, decided from its first bytes: the
 * head parsed by http_parse_head, then the body rules of this layer (no
 * Transfer-Encoding: 411; Content-Length above max_body: 413, before any
 * of the body is read). The bufferevent path calls this; so does the fuzz
 * target (tests/fuzz/fuzz_http.c). */
typedef struct {
    long head_len;   /* bytes of the head including the blank line (have_head) */
    size_t body_len; /* Content-Length bytes to read after the head (status 0) */
    int have_head;   /* the head parsed (h is valid), even when status is 411 or 413 */
    int status;      /* 0: read body_len bytes and dispatch; else answer this error */
    char err[160];   /* the message of an error status */
} http_request;

/* Returns 0 when more bytes are needed (nothing decided), 1 when r is
 * filled in. Pure: no allocation, no I/O. */
int http_parse_request(const char *buf, size_t len, size_t max_body, http_head *h,
                       http_request *r);
/* Value of a header (case-insensitive name) or NULL. */
const char *http_header(const http_head *h, const char *name);
/* Value of key in a query string "a=1&b=2" (percent-decoding not applied):
 * 1 and out on success, 0 if absent. */
int http_query(const char *query, const char *key, char *out, size_t len);
/* Reason phrase of a status code. */
const char *http_reason(int status);

typedef struct http_server http_server;
typedef struct http_exchange http_exchange;

typedef void (*http_handler_fn)(void *ud, http_exchange *x, const http_head *h,
                                const unsigned char *body, size_t len);
/* After every response is queued (loop thread): head is NULL when the
 * request could not be parsed; seconds from the complete request. */
typedef void (*http_done_fn)(void *ud, const http_head *h, int status, double seconds);

typedef struct {
    const char *host; /* numeric IPv4 or IPv6 address; "127.0.0.1" default */
    int port;         /* 0: an ephemeral port (see http_port) */
    size_t max_body;  /* bytes; larger Content-Length -> 413 */
    double timeout_s; /* read timeout per request (and write timeout) */
    int max_conns;    /* open connections; more are answered 503 */
    int handle_signals; /* SIGINT and SIGTERM stop http_run */
    http_handler_fn handler;
    http_done_fn done; /* may be NULL */
    void *ud;
} http_config;

/* Bind and listen (nothing runs until http_run). */
sim_status http_start(sim_ctx *ctx, http_server **out, const http_config *cfg);
int http_port(const http_server *s);
/* Run the event loop until http_stop (or a signal when handle_signals). */
sim_status http_run(http_server *s);
/* From any thread (not from a signal handler): make http_run return. */
void http_stop(http_server *s);
/* After http_run returned and every thread that may call http_respond
 * has stopped: close every connection and free everything. */
void http_free(http_server *s);

/* Answer x (any thread; exactly once per request): the body is copied.
 * extra: more header lines, each ending in "\r\n", or NULL. */
void http_respond(http_exchange *x, int status, const char *ctype, const void *body, size_t len,
                  const char *extra);
/* {"error": "<message>"} with the given status. */
void http_respond_error(http_exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


/* Parse a listen address "HOST:PORT", "[V6]:PORT" or "PORT" (loopback)
 * for option --opt into host and port (0..65535). */
sim_status http_parse_listen(sim_ctx *ctx, const char *opt, const char *val, char *host,
                             size_t len, int *port);

/* A tiny blocking client on one keep-alive connection (tests, the load
 * test, the browser-test helper). Not for the event loop thread. */
typedef struct {
    int fd;
    double timeout_s;
} http_client;

sim_status http_client_open(sim_ctx *ctx, http_client *c, const char *host, int port,
                            double timeout_s);
/* Send one request and read the whole response: status, and the body into
 * *resp (malloc'd, NUL-terminated; the caller frees). ctype may be NULL
 * when there is no body. */
sim_status http_client_request(sim_ctx *ctx, http_client *c, const char *method,
                               const char *target, const char *ctype, const void *body,
                               size_t len, int *status, char **resp, size_t *resp_len);
void http_client_close(http_client *c);

#endif
