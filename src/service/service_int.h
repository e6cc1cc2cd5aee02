/*
 * Private helpers shared by the service's use-case files.
 */
#ifndef CU_SERVICE_INT_H
#define CU_SERVICE_INT_H

#include "service.h"
#include "../store/store.h"
#include "../vault/vault.h"

/*
 * Seals a normalised record for storage: a fresh data key wrapped under the
 * active KEK, every present personal field sealed with dek_version, and the
 * blind-index entries of every identifier.  `out` is reset first.
 */
int service_seal(struct service *svc, const struct model_customer *m, uint32_t dek_version,
                 struct store_customer *out, char **errmsg) CU_WUR;

/*
 * Opens a stored record into `m` (initialised, empty): unwraps the data key
 * and opens every sealed field.  Fails closed: any integrity error leaves
 * `m` empty.
 */
int service_unseal(struct service *svc, const struct store_customer *s, struct model_customer *m,
                   char **errmsg) CU_WUR;

#endif
