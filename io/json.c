/* json.c - a tiny reader for top-level keys of a JSON object. It scans the
 * text once per lookup, tracking nesting and strings, so a key inside a nested
 * object or inside a string never matches. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Skip a string starting at the opening quote; returns the char after the
 * closing quote, or NULL if unterminated. */
static const char *skip_string(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return NULL;
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Find the value of key at depth 1; returns a pointer to its first char. */
static const char *find(const char *json, const char *key)
{
    if (!json)
        return NULL;
    size_t klen = strlen(key);
    int depth = 0;
    const char *p = json;
    while (*p) {
        if (*p == '"') {
            const char *end = skip_string(p);
            if (!end)
                return NULL;
            if (depth == 1 && (size_t)(end - p - 2) == klen && !strncmp(p + 1, key, klen)) {
                const char *q = skip_ws(end);
                if (*q == ':')
                    return skip_ws(q + 1);
            }
            p = end;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        p++;
    }
    return NULL;
}

int json_get_number(const char *json, const char *key, double *out)
{
    const char *v = find(json, key);
    if (!v)
        return 0;
    char *end;
    double d = strtod(v, &end);
    if (end == v)
        return 0;
    *out = d;
    return 1;
}

int json_get_bool(const char *json, const char *key, int *out)
{
    const char *v = find(json, key);
    if (!v)
        return 0;
    if (!strncmp(v, "true", 4)) {
        *out = 1;
        return 1;
    }
    if (!strncmp(v, "false", 5)) {
        *out = 0;
        return 1;
    }
    return 0;
}

int json_get_string(const char *json, const char *key, char *out, size_t len)
{
    const char *v = find(json, key);
    if (!v || *v != '"' || len == 0)
        return 0;
    size_t k = 0;
    for (v++; *v && *v != '"'; v++) {
        char c = *v;
        if (c == '\\') {
            v++;
            switch (*v) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\0': return 0;
            default: c = *v; break; /* \" \\ \/ and (lossy) \uXXXX -> 'u' */
            }
        }
        if (k + 1 < len)
            out[k++] = c;
    }
    if (*v != '"')
        return 0;
    out[k] = '\0';
    return 1;
}

int json_get_numbers(const char *json, const char *key, double *out, int max, int *n)
{
    const char *v = find(json, key);
    if (!v || *v != '[')
        return 0;
    int k = 0;
    v = skip_ws(v + 1);
    if (*v == ']') {
        *n = 0;
        return 1;
    }
    for (;;) {
        char *end;
        double d = strtod(v, &end);
        if (end == v)
            return 0;
        if (k < max)
            out[k] = d;
        k++;
        v = skip_ws(end);
        if (*v == ']')
            break;
        if (*v != ',')
            return 0;
        v = skip_ws(v + 1);
    }
    *n = k;
    return 1;
}

int json_get_object(const char *json, const char *key, char *out, size_t len)
{
    const char *v = find(json, key);
    if (!v || *v != '{' || len == 0)
        return 0;
    int depth = 0;
    const char *p = v;
    for (; *p; p++) {
        if (*p == '"') {
            p = skip_string(p);
            if (!p)
                return 0;
            p--;
            continue;
        }
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            break;
    }
    if (!*p)
        return 0;
    size_t n = (size_t)(p - v + 1);
    if (n >= len)
        return 0;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

size_t json_escape(char *buf, size_t len, const char *s)
{
    size_t k = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (k + 1 < len)                                                                           \
            buf[k] = (c);                                                                          \
        k++;                                                                                       \
    } while (0)
    PUT('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c < 0x20) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            for (char *t = tmp; *t; t++)
                PUT(*t);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
#undef PUT
    if (len)
        buf[k < len ? k : len - 1] = '\0';
    return k;
}
