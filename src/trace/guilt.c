/*
 * The guilt model of Papadimitriou and Garcia-Molina (trace.h), and the
 * parsing of the leak's point in time.
 *
 * Probabilities near 1 are where the ranking matters (a leaker who
 * revealed thousands of the leaked records and a colleague who revealed a
 * hundred both round to 1.0), so each suspect's product is kept as a sum
 * of logarithms, ln(1 - Pr) = sum of log1p(-(1 - p) / |V_t|), which stays
 * exact to double precision however many records it covers.
 */
#include "trace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int pair_cmp(const void *a, const void *b)
{
    const struct trace_pair *x = a, *y = b;

    if (x->record != y->record)
        return x->record < y->record ? -1 : 1;
    if (x->staff != y->staff)
        return x->staff < y->staff ? -1 : 1;
    return 0;
}

/* log_innocence rounded to 1e-9: sums of the same terms in another order tie. */
static long long quantise(double log_innocence)
{
    return llround(log_innocence * 1e9);
}

static int suspect_cmp(const void *a, const void *b, void *arg)
{
    const struct trace_suspect *x = a, *y = b;
    const char *const *names = arg;
    long long qx, qy;
    int c;

    if (x->certain != y->certain)
        return x->certain > y->certain ? -1 : 1;
    qx = quantise(x->log_innocence);
    qy = quantise(y->log_innocence);
    if (qx != qy)
        return qx < qy ? -1 : 1;
    if (x->records != y->records)
        return x->records > y->records ? -1 : 1;
    c = strcmp(names[x->staff] ? names[x->staff] : "", names[y->staff] ? names[y->staff] : "");
    if (c != 0)
        return c;
    return x->staff < y->staff ? -1 : x->staff > y->staff;
}

int trace_guilt(struct trace_pair *pairs, size_t *npairs, const char *const *names, size_t nstaff,
                double p, struct trace_suspect **out, size_t *nout)
{
    struct trace_suspect *acc;
    size_t n = *npairs, i, j, k, m = 0;
    double term, lt;

    *out = NULL;
    *nout = 0;
    if (!(p >= 0.0 && p < 1.0))
        return CU_ERR_INVALID;
    for (i = 0; i < n; i++)
        if (pairs[i].staff >= nstaff)
            return CU_ERR_INVALID;
    if (n > 1)
        qsort(pairs, n, sizeof(*pairs), pair_cmp);
    for (i = 0, j = 0; i < n; i++)
        if (j == 0 || pair_cmp(&pairs[j - 1], &pairs[i]) != 0)
            pairs[j++] = pairs[i];
    *npairs = n = j;

    acc = xcalloc(nstaff ? nstaff : 1, sizeof(*acc));
    /* One record at a time, in record order: each suspect's sum is added
     * in the same order whatever order the pairs came in. */
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && pairs[j].record == pairs[i].record; j++)
            ;
        term = (1.0 - p) / (double)(j - i);
        lt = term >= 1.0 ? 0.0 : log1p(-term);
        for (k = i; k < j; k++) {
            struct trace_suspect *s = &acc[pairs[k].staff];

            s->records++;
            s->sole += j - i == 1;
            if (term >= 1.0)
                s->certain++;
            else
                s->log_innocence += lt;
        }
    }
    for (i = 0; i < nstaff; i++) {
        if (acc[i].records == 0)
            continue;
        acc[m] = acc[i];
        acc[m].staff = (uint32_t)i;
        acc[m].probability = acc[m].certain ? 1.0 : -expm1(acc[m].log_innocence);
        m++;
    }
    if (m > 1)
        qsort_r(acc, m, sizeof(*acc), suspect_cmp, (void *)names);
    *out = acc;
    *nout = m;
    return CU_OK;
}

/* --- points in time -------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly `n` digits at *s into *v and advances *s. */
static int digits(const char **s, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return -1;
        *v = *v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    return 0;
}

int trace_parse_time(const char *text, int64_t *unix_ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = text;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, oh, om, sign, leap, k;
    int64_t v = 0, off = 0;

    if (s == NULL || *s == '\0')
        return CU_ERR_INVALID;
    if (strspn(s, "0123456789") == strlen(s)) {
        if (strlen(s) > 12)
            return CU_ERR_INVALID;
        for (; *s; s++)
            v = v * 10 + (*s - '0');
        *unix_ms = v * 1000;
        return CU_OK;
    }
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        return CU_ERR_INVALID;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return CU_ERR_INVALID;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) || h > 23 || mi > 59)
            return CU_ERR_INVALID;
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &sec) || sec > 60)
                return CU_ERR_INVALID;
            if (*s == '.' || *s == ',') {
                s++;
                for (k = 0; *s >= '0' && *s <= '9'; s++, k++)
                    if (k < 3)
                        ms = ms * 10 + (*s - '0');
                if (k == 0)
                    return CU_ERR_INVALID;
                for (; k < 3; k++)
                    ms *= 10;
            }
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            sign = *s++ == '-' ? -1 : 1;
            if (digits(&s, 2, &oh))
                return CU_ERR_INVALID;
            if (*s == ':')
                s++;
            if (digits(&s, 2, &om) || oh > 23 || om > 59)
                return CU_ERR_INVALID;
            off = sign * ((int64_t)oh * 3600 + om * 60);
        }
    }
    if (*s != '\0')
        return CU_ERR_INVALID;
    v = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *unix_ms = v * 1000 + ms;
    return CU_OK;
}
