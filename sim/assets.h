/* assets.h - the web pages of the services, embedded in the binary. The
 * Makefile generates their definitions (build/<variant>/gen/assets.c) from
 * sim/assets/<name>.html with od and awk; each array ends with a NUL that
 * the length leaves out. Nothing is ever read from disk at run time. */
#ifndef SIM_ASSETS_H
#define SIM_ASSETS_H

#include <stddef.h>

extern const unsigned char asset_index_html[];   /* `sim serve`: GET / */
extern const size_t asset_index_html_len;
extern const unsigned char asset_monitor_html[]; /* `sim --train --monitor`: GET / */
extern const size_t asset_monitor_html_len;

#endif
