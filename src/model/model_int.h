/*
 * Private helpers shared by the files of the model module.  Not part of the
 * module's interface: nothing outside src/model/ includes this header.
 */
#ifndef CU_MODEL_INT_H
#define CU_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length (1, 2 or 3) of the assigned ITU-T E.164 country calling code that
 * starts the `n` digits at `digits` (the digits after the '+'), or 0 when
 * they start with no assigned code.  Longest-prefix match; the assigned
 * codes are prefix-free, so at most one length can match.
 */
size_t model_cc_len(const char *digits, size_t n);

/*
 * Decodes one UTF-8 character of `s` (`len` bytes) at byte offset *i and
 * advances *i past it.  Strict: rejects overlong forms, surrogates, code
 * points above U+10FFFF and truncated sequences.  Returns the code point,
 * or -1 (leaving *i unchanged) on an invalid sequence.
 */
int32_t model_utf8_next(const char *s, size_t len, size_t *i);

/* True for the characters the normalisers trim: ASCII white space, U+00A0, U+3000. */
int model_is_space(int32_t cp);

/* Narrows the span *s, *n to drop leading and trailing model_is_space() characters. */
void model_trim(const char **s, size_t *n);

/* Wipes (cu_wipe) and frees a record string; NULL is a no-op. */
void model_str_free(char *s);

#endif
