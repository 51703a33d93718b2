// web_http - starting the HTTP side of passerelle-web (libmicrohttpd).
// Layer: adapters.
#ifndef WEB_HTTP_H
#define WEB_HTTP_H

#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "adapters/web/web.h"

struct MHD_Daemon;

typedef struct {
    const struct sockaddr *addr; // where to listen
    unsigned max_conns;          // MHD_OPTION_CONNECTION_LIMIT
    unsigned per_ip;             // MHD_OPTION_PER_IP_CONNECTION_LIMIT
    unsigned timeout_s;          // MHD_OPTION_CONNECTION_TIMEOUT
    unsigned threads;            // MHD_OPTION_THREAD_POOL_SIZE
    const char *tls_key;         // PEM text, or NULL (plain HTTP)
    const char *tls_cert;
} web_http_opts_t;

// Loads the assets of 'assets_dir' (style.css). Returns 0 or -1.
int web_http_init(const char *assets_dir);
// Prints the route table, one "METHOD TEMPLATE ROLES" line per row
// (ROLES: comma-separated role names, or "public"): --list-routes.
void web_http_list_routes(FILE *out);
// Starts serving 'w'; NULL on failure (MHD logs why).
struct MHD_Daemon *web_http_start(web_ctx_t *w, const web_http_opts_t *o);

#endif
