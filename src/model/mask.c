/*
 * Masking: the partial views of personal values shown without a verified
 * case (API.md, "Masking").  Inputs are normalised values; every function
 * returns a newly allocated string the caller frees, or NULL for a NULL
 * input.
 *
 * Rule shared by all of them: a masked value never shows the whole value.
 * Where the usual rule would hide nothing (a one-character name, a
 * one-character e-mail local part, a very short number) more is hidden.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_int.h"

/* The character at byte *i of s (advancing *i); an invalid byte counts as one character. */
static int32_t next_char(const char *s, size_t n, size_t *i)
{
    int32_t cp = model_utf8_next(s, n, i);

    if (cp < 0) {
        (*i)++;
        return 0xfffd;
    }
    return cp;
}

static size_t count_chars(const char *s, size_t n)
{
    size_t i = 0, count = 0;

    while (i < n) {
        next_char(s, n, &i);
        count++;
    }
    return count;
}

/*
 * Each word (separated by white space) keeps its first character; every
 * other character becomes one '*'.  A '*' is never longer than the
 * character it replaces, so the output fits in the input's length.
 */
char *model_mask_name(const char *name)
{
    size_t n, i, j, o = 0, hidden = 0;
    int word_start = 1;
    int32_t cp;
    char *out;

    if (name == NULL)
        return NULL;
    n = strlen(name);
    out = xmalloc(n + 1);
    for (i = 0; i < n; i = j) {
        j = i;
        cp = model_utf8_next(name, n, &j);
        if (cp < 0) { /* an invalid byte is hidden, never copied */
            j = i + 1;
            out[o++] = '*';
            hidden++;
            word_start = 0;
        } else if (model_is_space(cp) || word_start) {
            memcpy(out + o, name + i, j - i);
            o += j - i;
            word_start = model_is_space(cp);
        } else {
            out[o++] = '*';
            hidden++;
        }
    }
    if (hidden == 0) {
        /* Only one-character words ("张", "A B"): hide them all. */
        for (i = 0, o = 0; i < n; i = j) {
            j = i;
            cp = next_char(name, n, &j);
            if (model_is_space(cp)) {
                memcpy(out + o, name + i, j - i);
                o += j - i;
            } else {
                out[o++] = '*';
            }
        }
    }
    out[o] = '\0';
    return out;
}

/* Keeps the last `keep` characters of s (n bytes), one '*' for each other one. */
static char *mask_keep_tail(const char *s, size_t n, size_t keep)
{
    size_t total = count_chars(s, n), hide = total > keep ? total - keep : total, i = 0, k;
    struct buf b = BUF_INIT;

    buf_grow(&b, n);
    for (k = 0; k < hide; k++) {
        next_char(s, n, &i);
        buf_addch(&b, '*');
    }
    buf_add(&b, s + i, n - i);
    return buf_detach(&b, NULL);
}

/* How many trailing characters of a `total`-character value may be shown. */
static size_t tail_keep(size_t total)
{
    if (total >= 8)
        return 4;
    return total > 4 ? total - 4 : 0;
}

char *model_mask_tail4(const char *value)
{
    size_t n;

    if (value == NULL)
        return NULL;
    n = strlen(value);
    return mask_keep_tail(value, n, tail_keep(count_chars(value, n)));
}

char *model_mask_date(const char *date)
{
    if (date == NULL)
        return NULL;
    return xstrdup("****-**-**");
}

/*
 * "+CC NNN****NNNN": the country code, then the national number with its
 * first three and last four digits shown.  At least three digits are always
 * hidden: short national numbers show fewer digits, the leading ones first.
 */
char *model_mask_phone(const char *e164)
{
    size_t n, i, cclen = 0, natlen, head = 3, tail = 4;
    const char *nat;
    struct buf b = BUF_INIT;

    if (e164 == NULL)
        return NULL;
    n = strlen(e164);
    if (n >= 3 && e164[0] == '+') {
        for (i = 1; i < n; i++)
            if (e164[i] < '0' || e164[i] > '9')
                break;
        if (i == n)
            cclen = model_cc_len(e164 + 1, n - 1);
    }
    if (cclen == 0 || cclen + 1 >= n) /* not E.164: keep no more than the end */
        return mask_keep_tail(e164, n, tail_keep(count_chars(e164, n)));
    nat = e164 + 1 + cclen;
    natlen = n - 1 - cclen;
    while (head > 0 && head + tail + 3 > natlen)
        head--;
    while (tail > 0 && head + tail + 3 > natlen)
        tail--;
    buf_grow(&b, n + 2);
    buf_add(&b, e164, 1 + cclen);
    buf_addch(&b, ' ');
    buf_add(&b, nat, head);
    for (i = head; i < natlen - tail; i++)
        buf_addch(&b, '*');
    buf_add(&b, nat + natlen - tail, tail);
    return buf_detach(&b, NULL);
}

/*
 * "j***@example.com": the first character of the local part, three stars
 * whatever its length, and the domain.
 */
char *model_mask_email(const char *email)
{
    const char *at;
    size_t local, first = 0;

    if (email == NULL)
        return NULL;
    at = strrchr(email, '@');
    if (at == NULL)
        return xstrdup("***");
    local = (size_t)(at - email);
    if (local > 0)
        next_char(email, local, &first);
    if (first >= local) /* empty or one-character local part: show none of it */
        return xasprintf("***%s", at);
    return xasprintf("%.*s***%s", (int)first, email, at);
}

/* Longest city kept from a Chinese address, in characters ("延边朝鲜族自治州延吉市" is 11). */
#define CN_CITY_MAX_CHARS 12

/* The last occurrence of `needle` in s[0, n), or NULL. */
static const char *find_last(const char *s, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    const char *p = s, *last = NULL, *hit;

    while ((hit = memmem(p, n - (size_t)(p - s), needle, nl)) != NULL) {
        last = hit;
        p = hit + nl;
    }
    return last;
}

/* Whether s[0, n) holds a digit (ASCII or full-width) or a character
 * that names a street, a number or a building: then it is not a city
 * ("人民路5号城市花园", "中山北路超市"). */
static int cn_has_detail(const char *s, size_t n)
{
    static const char *const detail[] = {"路", "街", "道", "巷", "弄", "号", "楼", "栋",
                                         "幢", "室", "园", "村", "区", "镇", "县"};
    size_t i;

    for (i = 0; i < n; i++)
        if ((s[i] >= '0' && s[i] <= '9') ||
            (i + 3 <= n && memcmp(s + i, "\xef\xbc", 2) == 0 && (unsigned char)s[i + 2] >= 0x90 &&
             (unsigned char)s[i + 2] <= 0x99)) /* U+FF10..FF19 */
            return 1;
    for (i = 0; i < CU_ARRAY_LEN(detail); i++)
        if (memmem(s, n, detail[i], strlen(detail[i])) != NULL)
            return 1;
    return 0;
}

/* Chinese address: from after the province up to and including the first
 * "市", when that is a city's name. */
static char *mask_address_cn(const char *a, const char *city_end)
{
    static const char *const provinces[] = {"省", "自治区", "特别行政区"};
    const char *start = a, *hit;
    size_t i, n, chars;

    for (i = 0; i < CU_ARRAY_LEN(provinces); i++) {
        hit = find_last(a, (size_t)(city_end - a), provinces[i]);
        if (hit != NULL && hit + strlen(provinces[i]) > start)
            start = hit + strlen(provinces[i]);
    }
    n = (size_t)(city_end - start);
    model_trim(&start, &n);
    chars = count_chars(start, n);
    /* "市" alone, a long run, or one with a street or a number in it: more
     * than a city (the first "市" was a word's, as in 城市 or 超市), so
     * show nothing. */
    if (chars < 2 || chars > CN_CITY_MAX_CHARS || cn_has_detail(start, n))
        return xstrdup("***");
    return xasprintf("%.*s***", (int)n, start);
}

/* The length of a comma (ASCII or full-width) at s[i], or 0. */
static size_t comma_at(const char *s, size_t n, size_t i)
{
    if (s[i] == ',')
        return 1;
    if (i + 3 <= n && memcmp(s + i, "\xef\xbc\x8c", 3) == 0) /* U+FF0C */
        return 3;
    return 0;
}

/*
 * Other addresses: the second-to-last non-empty comma-separated part (the
 * last of two), without its words containing digits (house numbers,
 * postcodes), as "***, City".
 */
static char *mask_address_parts(const char *a)
{
    size_t n = strlen(a), i = 0, start = 0, c, parts = 0, pn, wn;
    const char *last = NULL, *prev = NULL, *part, *w, *end;
    size_t last_n = 0, prev_n = 0;
    struct buf b = BUF_INIT;

    for (i = 0; i <= n; i++) {
        c = i < n ? comma_at(a, n, i) : 1;
        if (c == 0)
            continue;
        part = a + start;
        pn = i - start;
        model_trim(&part, &pn);
        if (pn > 0) {
            prev = last;
            prev_n = last_n;
            last = part;
            last_n = pn;
            parts++;
        }
        i += c - 1;
        start = i + 1;
    }
    if (parts < 2)
        return xstrdup("***");
    if (parts == 2) {
        prev = last;
        prev_n = last_n;
    }
    buf_addstr(&b, "***, ");
    end = prev + prev_n;
    for (w = prev; w < end;) {
        int digit = 0;

        while (w < end && *w == ' ')
            w++;
        for (wn = 0; w + wn < end && w[wn] != ' '; wn++)
            if (w[wn] >= '0' && w[wn] <= '9')
                digit = 1;
        if (wn > 0 && !digit) {
            if (b.len > 5)
                buf_addch(&b, ' ');
            buf_add(&b, w, wn);
        }
        w += wn;
    }
    if (b.len == 5) {
        buf_release(&b);
        return xstrdup("***");
    }
    return buf_detach(&b, NULL);
}

char *model_mask_address(const char *address)
{
    const char *city;

    if (address == NULL)
        return NULL;
    city = strstr(address, "市");
    if (city != NULL)
        return mask_address_cn(address, city + strlen("市"));
    return mask_address_parts(address);
}
