/* http.c - the HTTP/1.1 layer of sim/http.h: a request-head parser (a pure
 * function on a buffer), and connections on libevent bufferevents with a
 * small state machine per connection:
 *
 *   HEAD -> (BODY) -> BUSY (handler / worker owns the request) -> WRITE
 *        -> HEAD again (keep-alive) or closed.
 *
 * Reading is off while a connection is BUSY or writing, so one connection
 * has at most one request in flight. Responses from other threads are
 * stored in the exchange and handed to the loop with event_active (libevent
 * is initialised for pthreads). */
#include "sim/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "io/json.h"
#include "sim/progress.h"

/* ---- head parsing ---- */

static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

long http_parse_head(const char *buf, size_t len, http_head *h, const char **err)
{
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    const char *end = buf + len, *eol = find_crlf(buf, end);
    /* the head is complete only with its blank line */
    const char *blank = NULL;
    for (const char *p = buf; p + 3 < end; p++)
        if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') {
            blank = p;
            break;
        }
    if (!blank) {
        *err = "request head incomplete";
        if (len >= HTTP_HEAD_MAX) {
            *err = "request head larger than 16 KiB";
            return -431;
        }
        /* a request line that is already malformed needs no more bytes */
        if (eol || len >= 16) {
            const char *sp = memchr(buf, ' ', eol ? (size_t)(eol - buf) : len);
            for (const char *p = buf; p < (sp ? sp : eol ? eol : end); p++)
                if (!is_tchar((unsigned char)*p)) {
                    *err = "malformed request line";
                    return -400;
                }
        }
        return 0;
    }
    if ((size_t)(blank + 4 - buf) > HTTP_HEAD_MAX) {
        *err = "request head larger than 16 KiB";
        return -431;
    }
    /* request line: METHOD SP target SP HTTP/1.x */
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1) {
        *err = "malformed request line (expected METHOD TARGET HTTP/1.x)";
        return -400;
    }
    for (const char *p = buf; p < sp1; p++)
        if (!is_tchar((unsigned char)*p)) {
            *err = "malformed method";
            return -400;
        }
    if ((size_t)(sp1 - buf) >= sizeof h->method) {
        *err = "method too long";
        return -501;
    }
    memcpy(h->method, buf, (size_t)(sp1 - buf));
    const char *tg = sp1 + 1;
    size_t tlen = (size_t)(sp2 - tg);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)tg[i] <= 0x20 || (unsigned char)tg[i] >= 0x7f) {
            *err = "malformed request target";
            return -400;
        }
    if (tg[0] != '/') {
        *err = "request target must start with '/'";
        return -400;
    }
    const char *q = memchr(tg, '?', tlen);
    size_t plen = q ? (size_t)(q - tg) : tlen, qlen = q ? tlen - plen - 1 : 0;
    if (plen >= sizeof h->path || qlen >= sizeof h->query) {
        *err = "request target too long";
        return -414;
    }
    memcpy(h->path, tg, plen);
    if (q)
        memcpy(h->query, q + 1, qlen);
    size_t vlen = (size_t)(eol - sp2 - 1);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || sp2[8] < '0' || sp2[8] > '9') {
        *err = "unsupported protocol version (expected HTTP/1.0 or HTTP/1.1)";
        return vlen >= 5 && !memcmp(sp2 + 1, "HTTP/", 5) ? -505 : -400;
    }
    h->minor = sp2[8] - '0';
    h->keep_alive = h->minor >= 1;
    /* header fields */
    for (const char *line = eol + 2; line < blank + 2;) {
        const char *le = find_crlf(line, blank + 2);
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon || colon == line) {
            *err = "malformed header line";
            return -400;
        }
        for (const char *p = line; p < colon; p++)
            if (!is_tchar((unsigned char)*p)) {
                *err = "malformed header name";
                return -400;
            }
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (h->nheaders >= HTTP_MAX_HEADERS) {
            *err = "too many header fields";
            return -431;
        }
        size_t nl = (size_t)(colon - line), vl = (size_t)(ve - v);
        if (nl >= sizeof h->names[0] || vl >= sizeof h->values[0]) {
            *err = "header field too long";
            return -431;
        }
        char *name = h->names[h->nheaders], *val = h->values[h->nheaders];
        memcpy(name, line, nl);
        memcpy(val, v, vl);
        for (size_t i = 0; i < vl; i++)
            if ((unsigned char)val[i] < 0x20 && val[i] != '\t') {
                *err = "control character in a header value";
                return -400;
            }
        h->nheaders++;
        if (!strcasecmp(name, "content-length")) {
            long long n = 0;
            if (vl == 0 || vl > 18 || h->content_length >= 0) {
                *err = "bad or repeated Content-Length";
                return -400;
            }
            for (size_t i = 0; i < vl; i++) {
                if (val[i] < '0' || val[i] > '9') {
                    *err = "bad Content-Length";
                    return -400;
                }
                n = n * 10 + (val[i] - '0');
            }
            h->content_length = n;
        } else if (!strcasecmp(name, "transfer-encoding")) {
            h->chunked = 1;
        } else if (!strcasecmp(name, "connection")) {
            if (strcasestr(val, "close"))
                h->keep_alive = 0;
            else if (strcasestr(val, "keep-alive"))
                h->keep_alive = 1;
        } else if (!strcasecmp(name, "expect")) {
            h->expect_continue = !strcasecmp(val, "100-continue");
        }
        line = le + 2;
    }
    return (long)(blank + 4 - buf);
}

int http_parse_request(const char *buf, size_t len, size_t max_body, http_head *h,
                       http_request *r)
{
    memset(r, 0, sizeof *r);
    const char *err = "";
    long n = http_parse_head(buf, len, h, &err);
    if (n == 0)
        return 0;
    if (n < 0) {
        r->status = (int)-n;
        snprintf(r->err, sizeof r->err, "%s", err);
        return 1;
    }
    r->head_len = n;
    r->have_head = 1;
    long long cl = h->content_length > 0 ? h->content_length : 0;
    if (h->chunked) {
        r->status = 411;
        snprintf(r->err, sizeof r->err, "chunked request bodies are not supported: send "
                 "Content-Length");
    } else if ((unsigned long long)cl > max_body) {
        r->status = 413;
        snprintf(r->err, sizeof r->err, "request body of %lld bytes, the limit is %zu bytes", cl,
                 max_body);
    } else {
        r->body_len = (size_t)cl;
    }
    return 1;
}

const char *http_header(const http_head *h, const char *name)
{
    for (int i = 0; i < h->nheaders; i++)
        if (!strcasecmp(h->names[i], name))
            return h->values[i];
    return NULL;
}

int http_query(const char *query, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&'), *e = amp ? amp : p + strlen(p);
        if ((size_t)(e - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t vl = (size_t)(e - p - (long)kl - 1);
            if (vl >= len)
                vl = len - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* ---- connections ---- */

enum { ST_HEAD, ST_BODY, ST_BUSY, ST_WRITE };

struct http_exchange {
    http_server *srv;
    struct bufferevent *bev;
    struct event *done_ev; /* activated by http_respond */
    struct http_exchange *prev, *next;
    int state;
    http_head head;
    int have_head;
    unsigned char *body;
    size_t body_len, body_need;
    double t_ready; /* the request was complete */
    /* the pending response (set by http_respond, sent by the loop) */
    int status, keep_alive;
    char *resp; /* full response bytes */
    size_t resp_len;
};

struct http_server {
    http_config cfg;
    char host[64];
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sig_int, *sig_term;
    struct event *stop_ev; /* http_stop, also before the loop has started */
    http_exchange *conns; /* every open connection */
    int nconns, port;
};

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_ok;
static void init_threads(void)
{
    threads_ok = evthread_use_pthreads() == 0;
}

static void conn_free(http_exchange *x)
{
    http_server *s = x->srv;
    if (x->prev)
        x->prev->next = x->next;
    else
        s->conns = x->next;
    if (x->next)
        x->next->prev = x->prev;
    s->nconns--;
    if (x->bev)
        bufferevent_free(x->bev);
    if (x->done_ev)
        event_free(x->done_ev);
    free(x->body);
    free(x->resp);
    free(x);
}

static void read_cb(struct bufferevent *bev, void *arg);

/* Queue the stored response on the socket (loop thread). */
static void send_response(http_exchange *x)
{
    http_server *s = x->srv;
    x->state = ST_WRITE;
    bufferevent_disable(x->bev, EV_READ);
    bufferevent_write(x->bev, x->resp, x->resp_len);
    free(x->resp);
    x->resp = NULL;
    if (s->cfg.done)
        s->cfg.done(s->cfg.ud, x->have_head ? &x->head : NULL, x->status,
                    progress_now() - x->t_ready);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    send_response(arg);
}

void http_respond(http_exchange *x, int status, const char *ctype, const void *body, size_t len,
                  const char *extra)
{
    char head[1024];
    int keep = x->keep_alive;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\nCache-Control: no-store\r\nX-Content-Type-Options: "
                     "nosniff\r\n%s\r\n",
                     status, http_reason(status), ctype, len, keep ? "keep-alive" : "close",
                     extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof head)
        n = snprintf(head, sizeof head, "HTTP/1.1 500 %s\r\nContent-Length: 0\r\n\r\n",
                     http_reason(500)), len = 0;
    char *r = malloc((size_t)n + len);
    if (r) {
        memcpy(r, head, (size_t)n);
        if (len)
            memcpy(r + n, body, len);
    }
    x->resp = r;
    x->resp_len = r ? (size_t)n + len : 0;
    x->status = status;
    if (!r)
        x->keep_alive = 0; /* out of memory: the connection closes with nothing */
    event_active(x->done_ev, EV_TIMEOUT, 0);
}

void http_respond_error(http_exchange *x, int status, const char *fmt, ...)
{
    char msg[600], body[4200]; /* escaping grows msg at most 6x */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = (size_t)snprintf(body, sizeof body, "{\"error\": ");
    n += json_escape(body + n, sizeof body - n - 4, msg);
    n += (size_t)snprintf(body + n, sizeof body - n, "}\n");
    http_respond(x, status, "application/json", body, n, NULL);
}

/* An error found by this layer: answer it and close the connection. */
static void fail(http_exchange *x, int status, const char *msg)
{
    x->keep_alive = 0;
    x->state = ST_BUSY;
    if (!x->t_ready)
        x->t_ready = progress_now();
    bufferevent_disable(x->bev, EV_READ);
    http_respond_error(x, status, "%s", msg);
}

static void dispatch(http_exchange *x)
{
    http_server *s = x->srv;
    x->state = ST_BUSY;
    x->t_ready = progress_now();
    bufferevent_disable(x->bev, EV_READ);
    s->cfg.handler(s->cfg.ud, x, &x->head, x->body, x->body_len);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    http_exchange *x = arg;
    http_server *s = x->srv;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (x->state == ST_HEAD) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return;
        size_t take = avail < HTTP_HEAD_MAX + 4 ? avail : HTTP_HEAD_MAX + 4;
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
        http_request rq;
        if (!http_parse_request(p, take, s->cfg.max_body, &x->head, &rq))
            return;
        if (rq.have_head) {
            evbuffer_drain(in, (size_t)rq.head_len);
            x->have_head = 1;
            x->keep_alive = x->head.keep_alive;
        }
        if (rq.status) {
            fail(x, rq.status, rq.err);
            return;
        }
        free(x->body);
        x->body = malloc(rq.body_len + 1);
        if (!x->body) {
            fail(x, 503, "out of memory for the request body");
            return;
        }
        const size_t cl = rq.body_len;
        x->body_len = 0;
        x->body_need = cl;
        x->state = ST_BODY;
        if (x->head.expect_continue && cl > 0 && evbuffer_get_length(in) == 0)
            bufferevent_write(bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    if (x->state == ST_BODY) {
        size_t want = x->body_need - x->body_len;
        if (want > 0)
            x->body_len += (size_t)evbuffer_remove(in, x->body + x->body_len, want);
        if (x->body_len < x->body_need)
            return;
        x->body[x->body_len] = 0;
        dispatch(x);
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    http_exchange *x = arg;
    if (x->state != ST_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (!x->keep_alive) {
        conn_free(x);
        return;
    }
    /* the next request on this connection */
    x->state = ST_HEAD;
    x->have_head = 0;
    x->t_ready = 0;
    free(x->body);
    x->body = NULL;
    x->body_len = x->body_need = 0;
    bufferevent_enable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
        read_cb(bev, x);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    http_exchange *x = arg;
    if (x->state == ST_BUSY)
        return; /* the response will find the connection closed */
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
        (x->state == ST_BODY ||
         (x->state == ST_HEAD && evbuffer_get_length(bufferevent_get_input(x->bev)) > 0))) {
        fail(x, 408, "timed out reading the request");
        return;
    }
    conn_free(x); /* EOF, error, idle timeout, write timeout */
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    (void)l, (void)sa, (void)salen;
    http_server *s = arg;
    /* answers go out whole, at once: with Nagle's algorithm the tail of a
     * response waited for the client's delayed ACK (~40 ms a request) */
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    http_exchange *x = calloc(1, sizeof *x);
    struct bufferevent *bev =
        x ? bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    struct event *ev = bev ? event_new(s->base, -1, 0, done_cb, x) : NULL;
    if (!ev) {
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        free(x);
        return;
    }
    x->srv = s;
    x->bev = bev;
    x->done_ev = ev;
    x->next = s->conns;
    if (s->conns)
        s->conns->prev = x;
    s->conns = x;
    s->nconns++;
    struct timeval tv;
    tv.tv_sec = (long)s->cfg.timeout_s;
    tv.tv_usec = (long)((s->cfg.timeout_s - (double)tv.tv_sec) * 1e6);
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, x);
    bufferevent_set_timeouts(bev, &tv, &tv);
    if (s->nconns > s->cfg.max_conns) {
        fail(x, 503, "too many open connections");
        return;
    }
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    http_server *s = arg;
    event_base_loopbreak(s->base);
}

/* event_base_loopbreak before the loop runs would be forgotten; an event
 * activated then is handled as soon as it runs */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    http_server *s = arg;
    event_base_loopbreak(s->base);
}

sim_status http_start(sim_ctx *ctx, http_server **out, const http_config *cfg)
{
    *out = NULL;
    /* libevent writes with writev: a client that hung up would raise SIGPIPE
     * and kill the process; ignore it (unless the program chose a handler) */
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    pthread_once(&threads_once, init_threads);
    if (!threads_ok)
        return ctx_error(ctx, SIM_ELIB, "libevent: evthread_use_pthreads failed");
    if (!cfg->handler || cfg->max_body < 1 || !(cfg->timeout_s > 0) || cfg->port < 0 ||
        cfg->port > 65535)
        return ctx_error(ctx, SIM_EINVAL, "http_start: bad configuration (port %d, max body %zu, "
                         "timeout %g s)", cfg->port, cfg->max_body, cfg->timeout_s);
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->port);
        sl = sizeof *a6;
    } else {
        return ctx_error(ctx, SIM_EINVAL, "listen address '%s': expected a numeric IPv4 or IPv6 "
                         "address", host);
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s)
        return ctx_error(ctx, SIM_ENOMEM, "http_start: out of memory");
    s->cfg = *cfg;
    if (s->cfg.max_conns < 1)
        s->cfg.max_conns = 256;
    snprintf(s->host, sizeof s->host, "%s", host);
    s->cfg.host = s->host;
    s->base = event_base_new();
    if (!s->base) {
        free(s);
        return ctx_error(ctx, SIM_ELIB, "libevent: event_base_new failed");
    }
    s->listener = evconnlistener_new_bind(s->base, accept_cb, s,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                              LEV_OPT_CLOSE_ON_EXEC,
                                          128, (struct sockaddr *)&ss, (int)sl);
    if (!s->listener) {
        int e = errno;
        event_base_free(s->base);
        free(s);
        return ctx_error(ctx, SIM_EIO, "cannot listen on %s port %d: %s", host, cfg->port,
                         strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&bound, &bl) == 0)
        s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    s->stop_ev = event_new(s->base, -1, 0, stop_cb, s);
    if (!s->stop_ev) {
        http_free(s);
        return ctx_error(ctx, SIM_ELIB, "libevent: event_new failed");
    }
    if (cfg->handle_signals) {
        s->sig_int = evsignal_new(s->base, SIGINT, signal_cb, s);
        s->sig_term = evsignal_new(s->base, SIGTERM, signal_cb, s);
        if (!s->sig_int || !s->sig_term || evsignal_add(s->sig_int, NULL) ||
            evsignal_add(s->sig_term, NULL)) {
            http_free(s);
            return ctx_error(ctx, SIM_ELIB, "libevent: cannot install signal handlers");
        }
    }
    *out = s;
    return SIM_OK;
}

int http_port(const http_server *s)
{
    return s->port;
}

sim_status http_run(http_server *s)
{
    return event_base_dispatch(s->base) < 0 ? SIM_ELIB : SIM_OK;
}

void http_stop(http_server *s)
{
    event_active(s->stop_ev, EV_TIMEOUT, 0);
}

void http_free(http_server *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_free(s->conns);
    if (s->listener)
        evconnlistener_free(s->listener);
    if (s->sig_int)
        event_free(s->sig_int);
    if (s->sig_term)
        event_free(s->sig_term);
    if (s->stop_ev)
        event_free(s->stop_ev);
    event_base_free(s->base);
    free(s);
}

/* "HOST:PORT", "[V6]:PORT" or "PORT" -> host (into buf) and port. */
sim_status http_parse_listen(sim_ctx *ctx, const char *opt, const char *val, char *host,
                             size_t len, int *port)
{
    const char *colon = strrchr(val, ':');
    const char *h = val, *he = colon ? colon : val;
    if (colon && val[0] == '[' && colon > val && colon[-1] == ']')
        h = val + 1, he = colon - 1;
    char *end;
    long p = strtol(colon ? colon + 1 : val, &end, 10);
    if (*end || p < 0 || p > 65535 || (size_t)(he - h) >= len || (colon && he == h))
        return ctx_error(ctx, SIM_EINVAL, "--%s: expected HOST:PORT (e.g. 127.0.0.1:8080), found "
                         "'%s'", opt, val);
    if (colon)
        snprintf(host, len, "%.*s", (int)(he - h), h);
    else
        snprintf(host, len, "127.0.0.1");
    *port = (int)p;
    return SIM_OK;
}

/* ---- the blocking client ---- */

sim_status http_client_open(sim_ctx *ctx, http_client *c, const char *host, int port,
                            double timeout_s)
{
    c->fd = -1;
    c->timeout_s = timeout_s > 0 ? timeout_s : 30;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET, a4->sin_port = htons((uint16_t)port), sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6, a6->sin6_port = htons((uint16_t)port), sl = sizeof *a6;
    } else {
        return ctx_error(ctx, SIM_EINVAL, "http client: '%s' is not a numeric address", host);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ctx_error(ctx, SIM_EIO, "http client: socket: %s", strerror(errno));
    struct timeval tv = {(long)c->timeout_s, (long)((c->timeout_s - (long)c->timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1; /* the body must not wait for the ACK of the head */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        return ctx_error(ctx, SIM_EIO, "http client: connect to %s port %d: %s", host, port,
                         strerror(e));
    }
    c->fd = fd;
    return SIM_OK;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w, n -= (size_t)w;
    }
    return 0;
}

sim_status http_client_request(sim_ctx *ctx, http_client *c, const char *method,
                               const char *target, const char *ctype, const void *body,
                               size_t len, int *status, char **resp, size_t *resp_len)
{
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    char head[4096];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\n", method, target);
    if (ctype)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body || len)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    if (n <= 0 || (size_t)n >= sizeof head)
        return ctx_error(ctx, SIM_EINVAL, "http client: request target too long");
    if (send_all(c->fd, head, (size_t)n) || (len && send_all(c->fd, body, len)))
        return ctx_error(ctx, SIM_EIO, "http client: send: %s", strerror(errno));
    /* the head, then Content-Length bytes of body */
    size_t cap = 8192, got = 0;
    char *buf = malloc(cap + 1);
    long hl = -1;
    long long cl = -1;
    sim_status st = buf ? SIM_OK : ctx_error(ctx, SIM_ENOMEM, "http client: out of memory");
    while (st == SIM_OK) {
        if (hl < 0) {
            char *e = NULL;
            for (size_t i = 0; i + 3 < got && !e; i++)
                if (!memcmp(buf + i, "\r\n\r\n", 4))
                    e = buf + i;
            if (e) {
                hl = (long)(e + 4 - buf);
                buf[got] = 0;
                if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
                    st = ctx_error(ctx, SIM_EFORMAT, "http client: bad status line");
                cl = 0;
                for (char *p = buf; p < e; p = strstr(p, "\r\n") + 2)
                    if (!strncasecmp(p, "content-length:", 15))
                        cl = atoll(p + 15);
                if (*status == 100) { /* 100 Continue: the real response follows */
                    memmove(buf, buf + hl, got - (size_t)hl);
                    got -= (size_t)hl;
                    hl = -1;
                    continue;
                }
            }
        }
        if (hl >= 0 && got >= (size_t)hl + (size_t)cl)
            break;
        if (got == cap) {
            size_t ncap = hl >= 0 && (size_t)hl + (size_t)cl > cap ? (size_t)hl + (size_t)cl : 2 * cap;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                st = ctx_error(ctx, SIM_ENOMEM, "http client: out of memory");
                break;
            }
            buf = nb, cap = ncap;
        }
        ssize_t r = recv(c->fd, buf + got, cap - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = ctx_error(ctx, SIM_EIO, "http client: connection %s after %zu bytes",
                           r == 0 ? "closed" : "failed", got);
            break;
        }
        got += (size_t)r;
    }
    if (st != SIM_OK) {
        free(buf);
        return st;
    }
    memmove(buf, buf + hl, (size_t)cl);
    buf[cl] = 0;
    *resp = buf;
    *resp_len = (size_t)cl;
    return SIM_OK;
}

void http_client_close(http_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
