/*
 * Synthetic customers for the demo, the tests and the benchmarks: mostly
 * Chinese names and +86 mobile numbers with real operator prefixes, some
 * international customers, 1-3 devices each with valid IMEIs on realistic
 * Apple TACs, Apple-style serials, models, purchase dates and store codes.
 *
 * Deterministic: customer `index` of seed `seed` is always the same record,
 * whatever was generated before it, so generation can start anywhere and run
 * in parallel.  Every generated record passes model_customer_normalise()
 * unchanged (values are produced already normalised).
 *
 * IMEIs are unique within a stream by construction (not by chance) for its
 * first eight million or so customers; different seeds give different IMEIs.
 * Serials are random (12 characters) and practically never repeat.
 */
#ifndef CU_SYNTH_H
#define CU_SYNTH_H

#include <stdint.h>

#include "../model/model.h"

/*
 * Fills `c` (initialised, empty) with customer number `index` (0-based) of
 * the stream for `seed`.  customer_id is "C" followed by 8 digits of
 * index + 1 (C00000001, ...).  The caller releases `c`.
 */
void synth_customer(uint64_t seed, uint64_t index, struct model_customer *c);

/*
 * A small deterministic PRNG (splitmix64) for synthetic data only; never
 * used for keys or nonces.
 */
uint64_t synth_rand(uint64_t *state);

#endif
