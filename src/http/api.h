/*
 * The JSON API of ../shared/API.md on top of the transport (http.h) and the
 * service layer: one handler per route, each answering through the service
 * functions with the caller's session as the actor.
 */
#ifndef CU_HTTP_API_H
#define CU_HTTP_API_H

#include "http.h"
#include "../service/service.h"

struct api;

/* Makes the API over an open service (not owned; it must outlive the api). */
struct api *api_new(struct service *svc);
void api_free(struct api *api);
/* Brings the audit writer's counters into the metrics (http_config.collect):
 * custodian_audit_entries_total and _batches_total (their ratio is the mean
 * group-commit batch size), _failures_total, custodian_audit_log_size; and
 * process_resident_memory_bytes. */
void api_collect(void *app);
/* Ends the request's grouped store reads (http_config.finish): a handler's
 * first use of its thread's service handle starts them (store_reads_begin). */
void api_finish(void *app);
/* The route table (static) and its length, for struct http_config. */
const struct http_route *api_routes(size_t *n);

#endif
