/*
 * bench-serve-ceiling: the ceiling of Custodian's HTTP stack.
 *
 *   bench-serve-ceiling --listen 127.0.0.1:PORT
 *
 * A minimal libmicrohttpd program with the daemon options of src/http/server.c
 * (epoll, internal polling threads: a pool sized to the online cores, 1,024
 * connections, 30 s idle timeout, 16 KiB of memory per connection) that
 * answers every request, whatever its method and path, with 200 and a fixed
 * JSON body shaped like a masked device look-up, plus the same standard
 * headers as the real server.  What it serves per second is the most the
 * real server could serve with handlers that took no time.  PORT 0 picks a
 * free port; the one bound is printed on stdout.  Runs until SIGTERM or
 * SIGINT.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

/* As HTTP_DEFAULT_CONN_LIMIT, HTTP_DEFAULT_TIMEOUT_S and HTTP_CONNECTION_MEMORY
 * in src/http/http.h. */
#define CEILING_CONN_LIMIT 1024u
#define CEILING_TIMEOUT_S  30u
#define CEILING_MEMORY     (16 * 1024)

/* About 200 bytes, the size of a masked GET /v1/devices/{imei} answer. */
static const char body[] =
    "{\"customer_id\":\"C00012345\",\"device\":{\"imei\":\"***********4321\","
    "\"serial\":\"********HG7F\",\"model\":\"iPhone 15 Pro\",\"purchase_date\":\"2024-03-18\","
    "\"store\":\"S001\"},\"owner\":{\"name\":\"张**\",\"phone\":\"+86 138****5678\"}}";

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* Marks a request seen once, so that the answer waits for its whole body. */
static int seen;

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    /* Like the real server: the first call only notes the request. */
    if (*req_cls == NULL) {
        *req_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* the body is read and dropped */
        return MHD_YES;
    }
    resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Request-Id", "00000000000000000000000000000000");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Parses "A.B.C.D:PORT" into *sin; 0 on success, -1 on a bad address. */
static int parse_listen(const char *listen, struct sockaddr_in *sin)
{
    const char *colon = strrchr(listen, ':');
    char host[INET_ADDRSTRLEN];
    char *end;
    unsigned long port;
    size_t n;

    if (colon == NULL)
        return -1;
    n = (size_t)(colon - listen);
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, listen, n);
    host[n] = '\0';
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port > 65535)
        return -1;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *daemon = NULL;
    const union MHD_DaemonInfo *di;
    struct sockaddr_in sin;
    unsigned threads;
    sigset_t sigs;
    long ncpu;
    int sig, rc = 1;

    if (argc != 3 || strcmp(argv[1], "--listen") != 0) {
        fprintf(stderr, "usage: bench-serve-ceiling --listen A.B.C.D:PORT\n");
        return 2;
    }
    if (parse_listen(argv[2], &sin) != 0) {
        fprintf(stderr, "bench-serve-ceiling: bad listen address \"%s\"\n", argv[2]);
        return 2;
    }
    /* Signals are taken with sigwait below; MHD's threads inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    threads = ncpu > 0 ? (unsigned)ncpu : 1;
    daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_CONNECTION_TIMEOUT, CEILING_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        CEILING_CONN_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CEILING_MEMORY,
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "bench-serve-ceiling: cannot listen on \"%s\"\n", argv[2]);
        goto out;
    }
    di = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("bench-serve-ceiling: serving on %s (port %u, %u threads)\n", argv[2],
           di != NULL ? (unsigned)di->port : 0u, threads);
    fflush(stdout);
    sigwait(&sigs, &sig);
    rc = 0;
out:
    if (daemon != NULL)
        MHD_stop_daemon(daemon);
    return rc;
}
