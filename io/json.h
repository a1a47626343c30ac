/* json.h - just enough JSON reading for our own files: top-level keys of
 * one object (checkpoint config attributes, request bodies). Values are
 * located by key at nesting depth 1; strings may contain escapes. */
#ifndef IO_JSON_H
#define IO_JSON_H

#include <stddef.h>

/* Each returns 1 when the key exists and has the right type, 0 otherwise. */
int json_get_number(const char *json, const char *key, double *out);
int json_get_bool(const char *json, const char *key, int *out);
/* Copies the string value (unescaped, truncated to len-1) into out. */
int json_get_string(const char *json, const char *key, char *out, size_t len);
/* An array of numbers: up to max values into out, count into *n. */
int json_get_numbers(const char *json, const char *key, double *out, int max, int *n);
/* The raw text of an object value {...} (for nested lookups), copied. */
int json_get_object(const char *json, const char *key, char *out, size_t len);

/* Write s as a JSON string literal (with quotes and escapes) to buf. */
size_t json_escape(char *buf, size_t len, const char *s);

#endif
