/*
 * Masked look-ups per second by IMEI through the library path the CLI
 * uses (service_lookup: normalise, blind index, read, open, confirm, audit
 * (a durable entry per look-up, one caller so no group commit), mask).
 *
 *   bench-lookup DATA_DIR SEED CUSTOMERS [LOOKUPS]
 *
 * The IMEIs are regenerated from the synthetic stream (seed, index), so the
 * data folder must hold `gen customers CUSTOMERS --seed SEED`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/service.h"
#include "synth/synth.h"
#include "vault/vault.h"

int main(int argc, char **argv)
{
    struct service *svc = NULL;
    struct model_customer c;
    uint64_t seed, n, lookups = 100000, i, found = 0, state = 42;
    char *err = NULL, **imeis;
    double t0, t;
    json_t *out;
    struct service_actor who;
    char name[96];

    if (argc < 4) {
        fprintf(stderr, "usage: bench-lookup DATA_DIR SEED CUSTOMERS [LOOKUPS]\n");
        return 2;
    }
    seed = strtoull(argv[2], NULL, 10);
    n = strtoull(argv[3], NULL, 10);
    if (argc > 4)
        lookups = strtoull(argv[4], NULL, 10);
    if (vault_global_init() != CU_OK || service_open(&svc, argv[1], &err) != CU_OK) {
        fprintf(stderr, "bench-lookup: %s\n", err ? err : "cannot start");
        return 1;
    }
    service_operator(&who, name, sizeof(name));
    imeis = xcalloc(lookups, sizeof(*imeis));
    for (i = 0; i < lookups; i++) {
        model_customer_init(&c);
        synth_customer(seed, synth_rand(&state) % n, &c);
        imeis[i] = xstrdup(c.devices[0].imei);
        model_customer_release(&c);
    }
    t0 = cu_monotonic();
    for (i = 0; i < lookups; i++) {
        if (service_lookup(svc, &who, MODEL_ID_IMEI, imeis[i], &out, &err) != CU_OK) {
            fprintf(stderr, "bench-lookup: %s\n", err);
            return 1;
        }
        found += json_array_size(json_object_get(out, "customers")) > 0;
        json_decref(out);
    }
    t = cu_monotonic() - t0;
    printf("{\"lookups\": %llu, \"found\": %llu, \"seconds\": %.3f, \"per_second\": %.0f, "
           "\"mean_us\": %.1f}\n",
           (unsigned long long)lookups, (unsigned long long)found, t, (double)lookups / t,
           t * 1e6 / (double)lookups);
    for (i = 0; i < lookups; i++)
        free(imeis[i]);
    free(imeis);
    service_free(svc);
    return found == lookups ? 0 : 1;
}
