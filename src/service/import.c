/*
 * Bulk import of CSV and JSON Lines files.
 *
 * Pipeline (two threads, so that parsing and sealing overlap the database
 * writes on a two-core machine):
 *
 *   reader thread: read lines -> parse (libcsv / jansson) -> group the rows of
 *                  one customer -> normalise and validate -> seal -> batch
 *   writer thread: batch -> one store transaction -> commit -> batch reused
 *
 * Batches circulate between a free list and a full queue, so memory is
 * bounded by IMPORT_BATCHES x IMPORT_BATCH customers whatever the file size.
 *
 * All or nothing: without --skip-invalid a validation pass reads the whole
 * file on a third thread (printing every bad row) while the import pass
 * runs; the writer commits nothing until validation has finished clean, and
 * rolls back if it did not.  The first commit comes 250,000 customers in,
 * long after validation of such a file is done, so the check costs no time.
 * Customers commit in transactions of IMPORT_COMMIT, so a killed import
 * leaves whole customers only, and re-running the file completes it (an existing customer is
 * replaced, a customer met twice in one run is merged).
 */
#include "service_int.h"

#include <csv.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Customers per batch, and batches in flight.  The queue must absorb the
 * writer's longest pause (a sorted flush of the blind index, about a second)
 * or the reader stalls: 64 x 1,024 sealed customers, about 100 MiB, bounded
 * whatever the file size.
 */
#define IMPORT_BATCH   1024
#define IMPORT_BATCHES 64
/*
 * Customers per transaction.  Blind-index keys are random, so a commit
 * dirties a large share of the index's leaf pages whatever its size: fewer,
 * larger commits write far less (1,000,000 customers: 26 GB of writes at
 * 5,000 a commit, under 6 GB at 50,000).  A killed import loses at most
 * this many customers' work (about five seconds), which re-running the
 * file redoes.
 */
#define IMPORT_COMMIT   250000
#define READ_CHUNK      (1 << 20)
#define MAX_LINE        (1 << 20)
#define META_IMPORT_RUN "import_run"

/* CSV columns, in MODEL_CSV_COLUMNS order. */
enum col {
    COL_CUSTOMER_ID,
    COL_ACCOUNT,
    COL_NAME,
    COL_PHONE,
    COL_EMAIL,
    COL_ADDRESS,
    COL_BIRTH_DATE,
    COL_IMEI,
    COL_SERIAL,
    COL_MODEL,
    COL_PURCHASE_DATE,
    COL_STORE,
    COL__COUNT,
    COL_IGNORED = -1, /* the "error" column of a rejects file */
};

static const char *const col_names[COL__COUNT] = {
    "customer_id", "account", "name",   "phone", "email",         "address",
    "birth_date",  "imei",    "serial", "model", "purchase_date", "store",
};

/* --- reading lines --------------------------------------------------- */

struct src {
    FILE *fp;
    char *buf;
    size_t cap, start, end;
    uint64_t line;     /* number of the line last returned, 1-based */
    uint64_t consumed; /* bytes returned so far */
    int eof;
};

static int src_open(struct src *s, const char *path, uint64_t *size, char **errmsg)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    s->fp = fopen(path, "rb");
    if (s->fp == NULL)
        return cu_errf(errmsg, errno == ENOENT ? CU_ERR_NOT_FOUND : CU_ERR_IO,
                       "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fileno(s->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(s->fp);
        s->fp = NULL;
        return cu_errf(errmsg, CU_ERR_INVALID, "'%s' is not a regular file", path);
    }
    *size = (uint64_t)st.st_size;
    s->cap = READ_CHUNK;
    s->buf = xmalloc(s->cap);
    return CU_OK;
}

static void src_close(struct src *s)
{
    if (s->fp != NULL)
        fclose(s->fp);
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

/* Returns the next line (with its newline if any) in *line and *len; 0 at end of
 * file, 1 for a line, -1 for a line longer than MAX_LINE or a read error. */
static int src_next(struct src *s, const char **line, size_t *len)
{
    char *nl;
    size_t got;

    for (;;) {
        nl = memchr(s->buf + s->start, '\n', s->end - s->start);
        if (nl != NULL || (s->eof && s->end > s->start)) {
            *line = s->buf + s->start;
            *len = nl ? (size_t)(nl - *line) + 1 : s->end - s->start;
            s->start += *len;
            s->consumed += *len;
            s->line++;
            return 1;
        }
        if (s->eof)
            return 0;
        if (s->end - s->start >= MAX_LINE)
            return -1;
        if (s->start > 0) {
            memmove(s->buf, s->buf + s->start, s->end - s->start);
            s->end -= s->start;
            s->start = 0;
        }
        if (s->end == s->cap) {
            s->cap *= 2;
            s->buf = xrealloc(s->buf, s->cap);
        }
        got = fread(s->buf + s->end, 1, s->cap - s->end, s->fp);
        if (got == 0) {
            if (ferror(s->fp))
                return -1;
            s->eof = 1;
        }
        s->end += got;
    }
}

/* --- batches and the writer thread ------------------------------------ */

/* A sealed customer on its way to the store.  The plaintext record is
 * released as soon as it is sealed, so only ciphertexts wait in the queue. */
struct item {
    struct store_customer s;
    uint64_t line;
};

struct batch {
    size_t n;
    struct item items[IMPORT_BATCH];
    struct batch *next;
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct batch *free_list;
    struct batch *full_head, *full_tail;
    int closed; /* the reader has no more batches */
    int failed; /* the writer stopped on an error */
};

struct import {
    struct service *svc;
    char **erased; /* erased customers' ids, sorted: never imported again */
    size_t nerased;
    const struct service_import_opts *opts;
    struct service_import_result *res;
    enum service_format format;
    int validate_only;
    int64_t run;

    /* reader state */
    struct src src;
    uint64_t size;
    int cols[64]; /* CSV column index -> enum col */
    size_t ncols;
    int header_done;
    struct buf header_raw; /* the header as read, for a rejects file */

    /* the CSV row being assembled by libcsv's callbacks */
    struct buf row;
    size_t field_off[64];
    size_t nfields;
    int row_overflow;
    int row_done;

    /* the customer being assembled from rows */
    struct model_customer cur;
    uint64_t cur_first_line;
    uint64_t cur_dev_lines[MODEL_MAX_DEVICES];
    uint64_t cur_rows;
    const char *cur_err_field; /* a conflict found while grouping */
    const char *cur_err_reason;
    uint64_t cur_err_line;
    struct buf cur_raw;      /* rejects: the rows as text, each ending where the error goes */
    struct buf cur_raw_meta; /* rejects: per row (offset, length, line) */

    /* errors */
    int quiet; /* count bad customers but do not print them (the validator does) */
    uint64_t errors_shown;
    FILE *rejects;

    /* pipeline */
    struct queue q;
    struct batch *filling;
    pthread_t writer;
    int writer_started;
    int writer_rc;
    char *writer_err;               /* written by the writer thread only */
    char *reader_err;               /* written by the reader thread only */
    struct store_customer existing; /* writer: the stored customer */
    struct model_customer old;      /* writer: ... opened */
    struct model_customer fresh;    /* writer: the incoming one, opened again */

    /* validation on its own thread (strict mode): guarded by q.lock */
    struct import *val;
    pthread_t validator;
    int validating; /* a validator runs: the writer waits for it before committing */
    int validated;
    int valid;
    double last_progress;
};

static void queue_init(struct queue *q)
{
    int i;

    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    for (i = 0; i < IMPORT_BATCHES; i++) {
        struct batch *b = xcalloc(1, sizeof(*b));
        size_t j;

        for (j = 0; j < IMPORT_BATCH; j++)
            store_customer_init(&b->items[j].s);
        b->next = q->free_list;
        q->free_list = b;
    }
}

static void batch_free(struct batch *b)
{
    size_t j;

    for (j = 0; j < IMPORT_BATCH; j++)
        store_customer_release(&b->items[j].s);
    free(b);
}

static void queue_release(struct queue *q)
{
    struct batch *b;

    while ((b = q->free_list) != NULL) {
        q->free_list = b->next;
        batch_free(b);
    }
    while ((b = q->full_head) != NULL) {
        q->full_head = b->next;
        batch_free(b);
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

/* Reader: takes an empty batch (waits for one); NULL if the writer failed. */
static struct batch *queue_take_free(struct queue *q)
{
    struct batch *b = NULL;

    pthread_mutex_lock(&q->lock);
    while (q->free_list == NULL && !q->failed)
        pthread_cond_wait(&q->cond, &q->lock);
    if (!q->failed) {
        b = q->free_list;
        q->free_list = b->next;
        b->next = NULL;
        b->n = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

static void queue_push_full(struct queue *q, struct batch *b)
{
    pthread_mutex_lock(&q->lock);
    if (q->full_tail != NULL)
        q->full_tail->next = b;
    else
        q->full_head = b;
    q->full_tail = b;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* Writer: takes a full batch (waits); NULL when closed and drained. */
static struct batch *queue_take_full(struct queue *q)
{
    struct batch *b;

    pthread_mutex_lock(&q->lock);
    while (q->full_head == NULL && !q->closed)
        pthread_cond_wait(&q->cond, &q->lock);
    b = q->full_head;
    if (b != NULL) {
        q->full_head = b->next;
        if (q->full_head == NULL)
            q->full_tail = NULL;
        b->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

static void queue_give_free(struct queue *q, struct batch *b, int failed)
{
    pthread_mutex_lock(&q->lock);
    b->next = q->free_list;
    q->free_list = b;
    if (failed)
        q->failed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* Merges `add` (normalised) into `into`: devices and phones not already
 * there are appended, absent scalar fields filled in.  NULL, or why the two
 * cannot be one customer (then `into` may be half merged: the caller
 * drops it), as adjacent rows of one customer are refused (csv_row). */
static const char *merge_customer(struct model_customer *into, struct model_customer *add)
{
    static const char *const names[] = {"account", "name", "email", "address", "birth_date"};
    char **scalars_into[] = {&into->account, &into->name, &into->email, &into->address,
                             &into->birth_date};
    char **scalars_add[] = {&add->account, &add->name, &add->email, &add->address,
                            &add->birth_date};
    size_t i, j;

    for (i = 0; i < CU_ARRAY_LEN(scalars_into); i++) {
        if (*scalars_add[i] == NULL)
            continue;
        if (*scalars_into[i] == NULL) {
            *scalars_into[i] = *scalars_add[i];
            *scalars_add[i] = NULL;
        } else if (strcmp(*scalars_into[i], *scalars_add[i]) != 0) {
            return names[i];
        }
    }
    for (i = 0; i < add->nphones; i++) {
        for (j = 0; j < into->nphones; j++)
            if (strcmp(into->phones[j], add->phones[i]) == 0)
                break;
        if (j < into->nphones)
            continue;
        if (into->nphones == MODEL_MAX_PHONES)
            return "phone";
        into->phones[into->nphones++] = add->phones[i];
        add->phones[i] = NULL;
    }
    for (i = 0; i < add->ndevices; i++) {
        struct model_device *d;

        for (j = 0; j < into->ndevices; j++)
            if (strcmp(into->devices[j].imei, add->devices[i].imei) == 0)
                break;
        if (j < into->ndevices)
            continue;
        if (into->ndevices == MODEL_MAX_DEVICES)
            return "devices";
        d = model_customer_add_device(into);
        *d = add->devices[i];
        memset(&add->devices[i], 0, sizeof(add->devices[i]));
    }
    return NULL;
}

/* The slow path of a write: the customer exists.  Replaced with a new data
 * key (dek_version + 1), or merged when this same import wrote it.  The new
 * record is opened again from its sealed form (this path is rare). */
static int write_existing(struct import *im, struct item *it, char **errmsg)
{
    struct service *svc = im->svc;
    struct model_customer *final = &im->fresh;
    int rc, merged = 0;

    model_customer_release(&im->fresh);
    model_customer_release(&im->old);
    rc = store_customer_get(svc->store, it->s.customer_id, &im->existing, errmsg);
    if (rc == CU_OK)
        rc = service_unseal(svc, &it->s, SERVICE_FIELDS_ALL, &im->fresh, errmsg);
    if (rc == CU_OK && im->existing.import_run == im->run) {
        rc = service_unseal(svc, &im->existing, SERVICE_FIELDS_ALL, &im->old, errmsg);
        if (rc == CU_OK) {
            const char *clash = merge_customer(&im->old, &im->fresh);

            if (clash != NULL)
                rc = cu_errf(errmsg, CU_ERR_INVALID,
                             "%s: an earlier, not adjacent row of the same customer says "
                             "otherwise, or together they are too many (rows of one customer "
                             "must be adjacent)",
                             clash);
            final = &im->old;
            merged = 1;
        }
    }
    if (rc == CU_OK)
        rc = service_seal(svc, final, im->existing.dek_version + 1, &it->s, errmsg);
    if (rc != CU_OK)
        goto out;
    it->s.import_run = im->run;
    rc = store_customer_replace(svc->store, &it->s, errmsg);
    if (rc == CU_OK) {
        if (merged)
            im->res->merged++;
        else
            im->res->updated++;
    }
out:
    model_customer_release(&im->fresh);
    model_customer_release(&im->old);
    return rc;
}

/* Writer: before a commit, waits for the validator (if any); CU_OK when
 * the file is valid, CU_ERR_INVALID (commit nothing) when it is not. */
static int wait_validated(struct import *im)
{
    int ok;

    if (!im->validating)
        return CU_OK;
    pthread_mutex_lock(&im->q.lock);
    while (!im->validated)
        pthread_cond_wait(&im->q.cond, &im->q.lock);
    ok = im->valid;
    pthread_mutex_unlock(&im->q.lock);
    return ok ? CU_OK : CU_ERR_INVALID;
}

static int run_pass(struct import *im, int validate_only, char **errmsg);

static void *validator_main(void *arg)
{
    struct import *im = arg, *val = im->val;
    int rc = run_pass(val, 1, &val->reader_err);

    pthread_mutex_lock(&im->q.lock);
    im->validated = 1;
    im->valid = rc == CU_OK && val->res->rejected == 0;
    val->writer_rc = rc; /* the validator's own result */
    pthread_cond_broadcast(&im->q.cond);
    pthread_mutex_unlock(&im->q.lock);
    return NULL;
}

static void *writer_main(void *arg)
{
    struct import *im = arg;
    struct store *store = im->svc->store;
    struct batch *b;
    size_t i, in_txn = 0;
    int rc = CU_OK;

    while ((b = queue_take_full(&im->q)) != NULL) {
        if (rc == CU_OK && in_txn == 0) {
            rc = store_begin(store, &im->writer_err);
            if (rc == CU_OK)
                rc = service_kek_hold(im->svc, &im->writer_err);
        }
        for (i = 0; rc == CU_OK && i < b->n; i++) {
            struct item *it = &b->items[i];

            rc = store_customer_insert(store, &it->s, &im->writer_err);
            if (rc == CU_ERR_CONFLICT) {
                free(im->writer_err);
                im->writer_err = NULL;
                rc = write_existing(im, it, &im->writer_err);
            } else if (rc == CU_OK) {
                im->res->inserted++;
            }
            if (rc != CU_OK)
                cu_errprefix(&im->writer_err, "%s:%llu: customer '%s'", im->opts->path,
                             (unsigned long long)it->line, it->s.customer_id);
        }
        in_txn += b->n;
        if (rc == CU_OK && in_txn >= IMPORT_COMMIT) {
            rc = wait_validated(im);
            if (rc == CU_OK)
                rc = store_commit(store, &im->writer_err);
            in_txn = 0;
        }
        if (rc != CU_OK && in_txn > 0) {
            store_rollback(store);
            in_txn = 0;
        }
        for (i = 0; i < b->n; i++)
            store_customer_reset(&b->items[i].s);
        queue_give_free(&im->q, b, rc != CU_OK);
    }
    if (rc == CU_OK && in_txn > 0) {
        rc = wait_validated(im);
        if (rc == CU_OK)
            rc = store_commit(store, &im->writer_err);
    }
    if (rc != CU_OK)
        store_rollback(store);
    im->writer_rc = rc;
    return NULL;
}

/* Hands the filling batch to the writer. */
static int flush_batch(struct import *im)
{
    if (im->filling != NULL && im->filling->n > 0) {
        queue_push_full(&im->q, im->filling);
        im->filling = NULL;
    }
    return CU_OK;
}

/* --- errors and rejects ----------------------------------------------- */

/* The rejects file holds the rejected rows whole (personal data): 0600. */
static int rejects_open(struct import *im, const char *path, char **errmsg)
{
    int fd = cu_open_private(path);

    im->rejects = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (im->rejects == NULL) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return cu_errf(errmsg, CU_ERR_IO, "cannot create '%s': %s", path, strerror(e));
    }
    return CU_OK;
}

static void report_error(struct import *im, uint64_t line, const char *field, const char *reason)
{
    FILE *out = im->opts->errors;

    im->res->rejected++;
    im->res->rejected_rows += im->cur_rows ? im->cur_rows : 1;
    if (out != NULL && !im->quiet && im->errors_shown < im->opts->max_errors_shown) {
        fprintf(out, "%s:%llu: %s: %s\n", im->opts->path, (unsigned long long)line, field, reason);
        im->errors_shown++;
    }
}

static void csv_put_field(struct buf *out, const char *s, size_t len)
{
    size_t i;

    if (len > 0 && strcspn(s, ",\"\r\n") >= len && s[0] != ' ' && s[len - 1] != ' ') {
        buf_add(out, s, len);
        return;
    }
    buf_addch(out, '"');
    for (i = 0; i < len; i++) {
        if (s[i] == '"')
            buf_addch(out, '"');
        buf_addch(out, s[i]);
    }
    buf_addch(out, '"');
}

/* Writes the current customer's rows to the rejects file, the reason on
 * the bad line and a pointer to it on the others. */
static void write_rejects(struct import *im, uint64_t bad_line, const char *field,
                          const char *reason)
{
    const uint64_t *meta = (const uint64_t *)im->cur_raw_meta.data;
    size_t rows = im->cur_raw_meta.len / (3 * sizeof(uint64_t)), i;
    struct buf line = BUF_INIT;
    char *why;

    if (im->rejects == NULL)
        return;
    for (i = 0; i < rows; i++) {
        uint64_t off = meta[3 * i], len = meta[3 * i + 1], lineno = meta[3 * i + 2];

        buf_reset(&line);
        if (im->format == SERVICE_FORMAT_CSV) {
            buf_add(&line, im->cur_raw.data + off, len);
            why = lineno == bad_line
                      ? xasprintf("%s: %s", field, reason)
                      : xasprintf("customer rejected, see line %llu", (unsigned long long)bad_line);
            csv_put_field(&line, why, strlen(why));
            buf_addstr(&line, "\r\n");
        } else {
            json_t *obj = json_loadb(im->cur_raw.data + off, len, 0, NULL);

            why = xasprintf("line %llu: %s: %s", (unsigned long long)lineno, field, reason);
            if (!json_is_object(obj)) {
                json_decref(obj);
                obj = json_pack("{s:s%}", "_line", im->cur_raw.data + off, (size_t)len);
                if (obj == NULL) /* the line is not UTF-8: kept as the error alone */
                    obj = json_object();
            }
            json_object_set_new(obj, "_error", json_string(why));
            char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
            buf_addstr(&line, text);
            buf_addch(&line, '\n');
            free(text);
            json_decref(obj);
        }
        free(why);
        fwrite(line.data, 1, line.len, im->rejects);
    }
    buf_release_wipe(&line);
}

/* Remembers a raw row of the current customer for the rejects file. */
static void keep_raw(struct import *im, const char *text, size_t len, uint64_t line)
{
    uint64_t meta[3];

    if (im->rejects == NULL)
        return;
    meta[0] = im->cur_raw.len;
    meta[1] = len;
    meta[2] = line;
    buf_add(&im->cur_raw, text, len);
    buf_add(&im->cur_raw_meta, meta, sizeof(meta));
}

/* --- customers -------------------------------------------------------- */

static void cur_reset(struct import *im)
{
    model_customer_release(&im->cur);
    im->cur_rows = 0;
    im->cur_first_line = 0;
    im->cur_err_field = NULL;
    im->cur_err_reason = NULL;
    im->cur_err_line = 0;
    buf_reset(&im->cur_raw);
    buf_reset(&im->cur_raw_meta);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int erased_add(void *ctx, const char *customer_id)
{
    struct import *im = ctx;

    im->erased = xrealloc(im->erased, (im->nerased + 1) * sizeof(*im->erased));
    im->erased[im->nerased++] = xstrdup(customer_id);
    return 0;
}

/* Loads the erased ids (sorted by the store). */
static int erased_load(struct import *im, char **errmsg)
{
    return store_erased_scan(im->svc->store, erased_add, im, errmsg);
}

static void erased_release(struct import *im)
{
    size_t i;

    for (i = 0; i < im->nerased; i++)
        free(im->erased[i]);
    free(im->erased);
    im->erased = NULL;
    im->nerased = 0;
}

/* Validates the assembled customer and, in the import pass, seals it into
 * the batch.  Returns CU_OK, or an error that stops the import. */
static int finish_customer(struct import *im)
{
    struct model_error err = {0};
    const char *field, *reason;
    uint64_t line;
    int bad_device = -1, rc;
    struct item *it;

    if (im->cur_rows == 0)
        return CU_OK;
    if (im->cur_err_field != NULL) {
        field = im->cur_err_field;
        reason = im->cur_err_reason;
        line = im->cur_err_line;
        goto bad;
    }
    if (model_customer_normalise(&im->cur, im->svc->default_country, &err, &bad_device) != CU_OK) {
        field = err.field ? err.field : "record";
        reason = err.reason ? err.reason : "invalid";
        line = bad_device >= 0 && (size_t)bad_device < MODEL_MAX_DEVICES &&
                       im->format == SERVICE_FORMAT_CSV
                   ? im->cur_dev_lines[bad_device]
                   : im->cur_first_line;
        goto bad;
    }
    if (im->nerased > 0 && im->cur.customer_id != NULL &&
        bsearch(&im->cur.customer_id, im->erased, im->nerased, sizeof(*im->erased), cmp_id)) {
        field = "customer_id";
        reason = "this customer was erased; an erased id is never imported again";
        line = im->cur_first_line;
        goto bad;
    }
    im->res->customers++;
    if (im->validate_only) {
        cur_reset(im);
        return CU_OK;
    }
    if (im->filling == NULL) {
        im->filling = queue_take_free(&im->q);
        if (im->filling == NULL)
            return CU_ERR_STORE; /* the writer failed; its error is reported */
    }
    it = &im->filling->items[im->filling->n];
    rc = service_seal(im->svc, &im->cur, 1, &it->s, &im->reader_err);
    if (rc != CU_OK)
        return rc;
    it->s.import_run = im->run;
    it->line = im->cur_first_line;
    im->filling->n++;
    if (im->filling->n == IMPORT_BATCH)
        flush_batch(im);
    cur_reset(im);
    return CU_OK;

bad:
    report_error(im, line, field, reason);
    write_rejects(im, line, field, reason);
    cur_reset(im);
    return CU_OK;
}

/* Sets a customer-level string from a row: first value wins, a different
 * later value is a conflict. */
static void set_scalar(struct import *im, char **slot, const char *value, const char *field,
                       uint64_t line)
{
    if (value[0] == '\0')
        return;
    if (*slot == NULL) {
        *slot = xstrdup(value);
    } else if (strcmp(*slot, value) != 0 && im->cur_err_field == NULL) {
        im->cur_err_field = field;
        im->cur_err_reason = "differs between rows of the same customer";
        im->cur_err_line = line;
    }
}

static void set_conflict(struct import *im, const char *field, const char *reason, uint64_t line)
{
    if (im->cur_err_field == NULL) {
        im->cur_err_field = field;
        im->cur_err_reason = reason;
        im->cur_err_line = line;
    }
}

/* --- CSV -------------------------------------------------------------- */

static void csv_on_field(void *data, size_t len, void *arg)
{
    struct import *im = arg;

    if (im->nfields == CU_ARRAY_LEN(im->field_off)) {
        im->row_overflow = 1;
        return;
    }
    im->field_off[im->nfields++] = im->row.len;
    buf_add(&im->row, data ? data : "", data ? len : 0);
    buf_addch(&im->row, '\0');
}

static void csv_on_row(int term, void *arg)
{
    struct import *im = arg;

    (void)term;
    im->row_done = 1;
}

static const char *row_field(struct import *im, size_t i)
{
    return im->row.data + im->field_off[i];
}

static int csv_header(struct import *im, uint64_t line, char **errmsg)
{
    size_t i, j;
    int have_id = 0;

    if (im->row_overflow)
        return cu_errf(errmsg, CU_ERR_INVALID, "%s:%llu: too many columns", im->opts->path,
                       (unsigned long long)line);
    for (i = 0; i < im->nfields; i++) {
        const char *name = row_field(im, i);

        im->cols[i] = COL_IGNORED;
        if (i == 0 && strncmp(name, "\xef\xbb\xbf", 3) == 0)
            name += 3; /* a UTF-8 byte-order mark */
        for (j = 0; j < COL__COUNT; j++)
            if (strcmp(name, col_names[j]) == 0)
                im->cols[i] = (int)j;
        if (im->cols[i] == COL_IGNORED && strcmp(name, "error") != 0)
            return cu_errf(errmsg, CU_ERR_INVALID, "%s:%llu: unknown column '%.40s' (expected: %s)",
                           im->opts->path, (unsigned long long)line, name, MODEL_CSV_COLUMNS);
        for (j = 0; j < i; j++)
            if (im->cols[j] == im->cols[i] && im->cols[i] != COL_IGNORED)
                return cu_errf(errmsg, CU_ERR_INVALID, "%s:%llu: column '%s' appears twice",
                               im->opts->path, (unsigned long long)line, name);
        if (im->cols[i] == COL_CUSTOMER_ID)
            have_id = 1;
    }
    if (!have_id)
        return cu_errf(errmsg, CU_ERR_INVALID, "%s:%llu: no 'customer_id' column", im->opts->path,
                       (unsigned long long)line);
    im->ncols = im->nfields;
    if (im->rejects != NULL) {
        for (i = 0; i < im->nfields; i++) {
            if (im->cols[i] == COL_IGNORED)
                continue;
            buf_addstr(&im->header_raw, col_names[im->cols[i]]);
            buf_addch(&im->header_raw, ',');
        }
        buf_addstr(&im->header_raw, "error\r\n");
        fwrite(im->header_raw.data, 1, im->header_raw.len, im->rejects);
    }
    im->header_done = 1;
    return CU_OK;
}

/* Applies one complete data row to the customer being assembled. */
/* Whether a later row's phone cell lists the customer's phones, in the
 * same order; spaces around the separators do not count. */
static int same_phones(const struct model_customer *c, const char *cell)
{
    struct model_customer other;
    size_t i;
    int same;

    model_customer_init(&other);
    same = model_phones_split(&other, cell) == CU_OK && other.nphones == c->nphones;
    for (i = 0; same && i < c->nphones; i++)
        same = strcmp(other.phones[i], c->phones[i]) == 0;
    model_customer_release(&other);
    return same;
}

static int csv_row(struct import *im, uint64_t line)
{
    const char *v[COL__COUNT] = {NULL};
    struct model_device *d;
    struct buf raw = BUF_INIT;
    size_t i;
    int rc, c;

    for (i = 0; i < im->nfields && i < im->ncols; i++)
        if (im->cols[i] != COL_IGNORED)
            v[im->cols[i]] = row_field(im, i);
    for (c = 0; c < COL__COUNT; c++)
        if (v[c] == NULL)
            v[c] = "";

    if (im->cur_rows > 0 && strcmp(im->cur.customer_id, v[COL_CUSTOMER_ID]) != 0) {
        rc = finish_customer(im);
        if (rc != CU_OK)
            return rc;
    }
    if (im->cur_rows == 0) {
        im->cur.customer_id = xstrdup(v[COL_CUSTOMER_ID]);
        im->cur_first_line = line;
    }
    im->cur_rows++;
    if (im->rejects != NULL) {
        for (i = 0; i < im->nfields && i < im->ncols; i++) {
            if (im->cols[i] == COL_IGNORED)
                continue;
            csv_put_field(&raw, row_field(im, i), strlen(row_field(im, i)));
            buf_addch(&raw, ',');
        }
        keep_raw(im, raw.data, raw.len, line);
        buf_release_wipe(&raw);
    }
    if (im->row_overflow || im->nfields != im->ncols) {
        set_conflict(im, "row", "wrong number of columns", line);
        return CU_OK;
    }
    if (v[COL_CUSTOMER_ID][0] == '\0') {
        set_conflict(im, "customer_id", "missing", line);
        return CU_OK;
    }
    set_scalar(im, &im->cur.account, v[COL_ACCOUNT], "account", line);
    set_scalar(im, &im->cur.name, v[COL_NAME], "name", line);
    set_scalar(im, &im->cur.email, v[COL_EMAIL], "email", line);
    set_scalar(im, &im->cur.address, v[COL_ADDRESS], "address", line);
    set_scalar(im, &im->cur.birth_date, v[COL_BIRTH_DATE], "birth_date", line);
    if (v[COL_PHONE][0] != '\0') {
        if (im->cur.nphones == 0) {
            if (model_phones_split(&im->cur, v[COL_PHONE]) != CU_OK)
                set_conflict(im, "phone", "too many phone numbers", line);
        } else if (!same_phones(&im->cur, v[COL_PHONE])) {
            set_conflict(im, "phone", "differs between rows of the same customer", line);
        }
    }
    if (v[COL_IMEI][0] || v[COL_SERIAL][0] || v[COL_MODEL][0] || v[COL_PURCHASE_DATE][0] ||
        v[COL_STORE][0]) {
        if (im->cur.ndevices == MODEL_MAX_DEVICES) {
            set_conflict(im, "imei", "too many devices for one customer", line);
            return CU_OK;
        }
        im->cur_dev_lines[im->cur.ndevices] = line;
        d = model_customer_add_device(&im->cur);
        d->imei = v[COL_IMEI][0] ? xstrdup(v[COL_IMEI]) : NULL;
        d->serial = v[COL_SERIAL][0] ? xstrdup(v[COL_SERIAL]) : NULL;
        d->model = v[COL_MODEL][0] ? xstrdup(v[COL_MODEL]) : NULL;
        d->purchase_date = v[COL_PURCHASE_DATE][0] ? xstrdup(v[COL_PURCHASE_DATE]) : NULL;
        d->store = v[COL_STORE][0] ? xstrdup(v[COL_STORE]) : NULL;
    }
    return CU_OK;
}

/* --- the passes --------------------------------------------------------- */

static void progress(struct import *im, int force)
{
    double now;

    if (im->opts->progress == NULL)
        return;
    now = cu_monotonic();
    if (!force && now - im->last_progress < 0.25)
        return;
    im->last_progress = now;
    im->opts->progress(im->opts->progress_ctx, im->validate_only ? "validating" : "importing",
                       im->src.consumed, im->size, im->res->customers);
}

/* Handles the row libcsv just completed: the header or a data row. */
static int handle_row(struct import *im, uint64_t row_line, char **errmsg)
{
    int rc;

    if (!im->header_done) {
        rc = csv_header(im, row_line, errmsg);
    } else {
        rc = csv_row(im, row_line);
        im->res->rows++;
    }
    buf_reset(&im->row);
    im->nfields = 0;
    im->row_overflow = 0;
    im->row_done = 0;
    return rc;
}

static int blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static int run_csv(struct import *im, char **errmsg)
{
    struct csv_parser p;
    const char *line;
    size_t len;
    uint64_t row_line = 0; /* the line where the row being parsed began */
    int r = 0, rc = CU_OK;

    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return cu_errf(errmsg, CU_ERR_INTERNAL, "cannot initialise the CSV parser");
    while (rc == CU_OK && (r = src_next(&im->src, &line, &len)) > 0) {
        if (row_line == 0)
            row_line = im->src.line;
        if (csv_parse(&p, line, len, csv_on_field, csv_on_row, im) != len) {
            rc = cu_errf(errmsg, CU_ERR_INVALID, "%s:%llu: malformed CSV (%s)", im->opts->path,
                         (unsigned long long)im->src.line, csv_strerror(csv_error(&p)));
            break;
        }
        if (im->row_done) {
            rc = handle_row(im, row_line, errmsg);
            row_line = 0;
        } else if (im->nfields == 0 && row_line == im->src.line && blank(line, len)) {
            row_line = 0; /* a blank line outside any row: libcsv skips it */
        }
        progress(im, 0);
    }
    if (rc == CU_OK && r < 0)
        rc = cu_errf(errmsg, CU_ERR_IO, "%s:%llu: line too long or read error", im->opts->path,
                     (unsigned long long)im->src.line + 1);
    if (rc == CU_OK && csv_fini(&p, csv_on_field, csv_on_row, im) != 0)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s:%llu: malformed CSV (unterminated quote)",
                     im->opts->path, (unsigned long long)row_line);
    if (rc == CU_OK && im->row_done)
        rc = handle_row(im, row_line, errmsg);
    if (rc == CU_OK && !im->header_done)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: empty file (no header row)", im->opts->path);
    if (rc == CU_OK)
        rc = finish_customer(im);
    csv_free(&p);
    buf_release_wipe(&im->row);
    return rc;
}

static int run_jsonl(struct import *im, char **errmsg)
{
    struct model_error err = {0};
    const char *line;
    size_t len, i;
    int r, rc = CU_OK;

    while (rc == CU_OK && (r = src_next(&im->src, &line, &len)) > 0) {
        for (i = 0;
             i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n');
             i++)
            ;
        if (i == len)
            continue; /* blank line */
        im->res->rows++;
        im->cur_rows = 1;
        im->cur_first_line = im->src.line;
        keep_raw(im, line, len, im->src.line);
        err.field = err.reason = NULL;
        if (model_jsonl_read(line, len, &im->cur, &err) != CU_OK)
            set_conflict(im, err.field ? err.field : "json",
                         err.reason ? err.reason : "not valid JSON", im->src.line);
        rc = finish_customer(im);
        cur_reset(im);
        progress(im, 0);
    }
    if (rc == CU_OK && r < 0)
        rc = cu_errf(errmsg, CU_ERR_IO, "%s:%llu: line too long or read error", im->opts->path,
                     (unsigned long long)im->src.line + 1);
    return rc;
}

static int run_pass(struct import *im, int validate_only, char **errmsg)
{
    int rc;

    im->validate_only = validate_only;
    im->header_done = 0;
    im->res->rows = 0;
    im->res->customers = 0;
    im->res->rejected = 0;
    im->res->rejected_rows = 0;
    im->last_progress = 0;
    cur_reset(im);
    rc = src_open(&im->src, im->opts->path, &im->size, errmsg);
    if (rc != CU_OK)
        return rc;
    rc = im->format == SERVICE_FORMAT_JSONL ? run_jsonl(im, errmsg) : run_csv(im, errmsg);
    progress(im, 1);
    src_close(&im->src);
    cur_reset(im);
    return rc;
}

static enum service_format guess_format(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot != NULL &&
        (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0 || strcmp(dot, ".json") == 0))
        return SERVICE_FORMAT_JSONL;
    return SERVICE_FORMAT_CSV;
}

/* Takes the next import run number (recorded on each customer written, so
 * that a customer met twice in one file is merged, not replaced). */
static int next_run(struct service *svc, int64_t *run, char **errmsg)
{
    char *value = NULL, num[24];
    int rc;

    rc = store_meta_get(svc->store, META_IMPORT_RUN, &value, errmsg);
    if (rc != CU_OK && rc != CU_ERR_NOT_FOUND)
        return rc; /* a failed read is not "no run yet" */
    if (rc == CU_ERR_NOT_FOUND && errmsg != NULL) {
        free(*errmsg);
        *errmsg = NULL;
    }
    *run = rc == CU_OK ? strtoll(value, NULL, 10) + 1 : 1;
    free(value);
    snprintf(num, sizeof(num), "%lld", (long long)*run);
    return store_meta_set(svc->store, META_IMPORT_RUN, num, errmsg);
}

int service_import(struct service *svc, const struct service_import_opts *opts,
                   struct service_import_result *res, char **errmsg)
{
    struct import *im = xcalloc(1, sizeof(*im)), *val = NULL;
    struct service_import_opts val_opts;
    struct service_import_result vres = {0};
    double start = cu_monotonic();
    int rc, wrc;

    memset(res, 0, sizeof(*res));
    im->svc = svc;
    im->opts = opts;
    im->res = res;
    im->format = opts->format == SERVICE_FORMAT_AUTO ? guess_format(opts->path) : opts->format;
    model_customer_init(&im->cur);
    model_customer_init(&im->old);
    model_customer_init(&im->fresh);
    store_customer_init(&im->existing);

    if (opts->skip_invalid && opts->rejects_path != NULL) {
        rc = rejects_open(im, opts->rejects_path, errmsg);
        if (rc != CU_OK)
            goto out;
    }
    rc = next_run(svc, &im->run, errmsg);
    if (rc == CU_OK)
        rc = erased_load(im, errmsg);
    if (rc != CU_OK)
        goto out;
    queue_init(&im->q);
    if (!opts->skip_invalid) {
        /* The validator: its own reader state and counters, no progress. */
        val = xcalloc(1, sizeof(*val));
        val_opts = *opts;
        val_opts.progress = NULL;
        val->svc = svc;
        val->opts = &val_opts;
        val->res = &vres;
        val->format = im->format;
        val->erased = im->erased; /* borrowed */
        val->nerased = im->nerased;
        model_customer_init(&val->cur);
        im->val = val;
        im->validating = 1;
        im->quiet = 1;
        if (pthread_create(&im->validator, NULL, validator_main, im) != 0) {
            cu_log("import: cannot start the validation thread");
            abort();
        }
    }
    if (pthread_create(&im->writer, NULL, writer_main, im) != 0) {
        cu_log("import: cannot start the writer thread");
        abort();
    }
    rc = run_pass(im, 0, errmsg);
    if (rc != CU_OK && im->reader_err != NULL)
        rc = cu_errf(errmsg, rc, "%s", im->reader_err);
    if (im->filling != NULL) {
        if (rc == CU_OK)
            flush_batch(im);
        else
            queue_give_free(&im->q, im->filling, 0);
        im->filling = NULL;
    }
    pthread_mutex_lock(&im->q.lock);
    im->q.closed = 1;
    pthread_cond_broadcast(&im->q.cond);
    pthread_mutex_unlock(&im->q.lock);
    pthread_join(im->writer, NULL);
    if (val != NULL)
        pthread_join(im->validator, NULL);
    queue_release(&im->q);
    wrc = im->writer_rc;
    if (val != NULL && !im->valid) {
        /* Nothing was committed; the validator's account is the one to give. */
        if (errmsg != NULL) {
            free(*errmsg);
            *errmsg = NULL;
        }
        res->inserted = res->updated = res->merged = 0;
        res->rows = vres.rows;
        res->rejected = vres.rejected;
        res->rejected_rows = vres.rejected_rows;
        if (val->writer_rc != CU_OK) {
            rc = cu_errf(errmsg, val->writer_rc, "%s",
                         val->reader_err ? val->reader_err : "the file cannot be read");
        } else {
            if (opts->errors != NULL && vres.rejected > val->errors_shown)
                fprintf(opts->errors, "%s: ... and %llu more invalid customers\n", opts->path,
                        (unsigned long long)(vres.rejected - val->errors_shown));
            rc = cu_errf(errmsg, CU_ERR_INVALID,
                         "'%s' has %llu invalid customers (%llu rows); nothing was imported "
                         "(use --skip-invalid --rejects FILE to import the valid ones)",
                         opts->path, (unsigned long long)vres.rejected,
                         (unsigned long long)vres.rejected_rows);
        }
    } else if (wrc != CU_OK) {
        /* The writer's error is the cause; the reader only saw it stop. */
        if (errmsg != NULL) {
            free(*errmsg);
            *errmsg = NULL;
        }
        rc = cu_errf(errmsg, wrc,
                     "%s (customers committed before it are kept; re-run the "
                     "import to complete it)",
                     im->writer_err ? im->writer_err : "the store failed");
    } else if (rc != CU_OK && im->writer_err != NULL) {
        rc = cu_errf(errmsg, rc, "%s", im->writer_err);
    }
    if (rc == CU_OK && opts->skip_invalid && res->rejected > im->errors_shown &&
        opts->errors != NULL)
        fprintf(opts->errors, "%s: ... and %llu more invalid customers\n", opts->path,
                (unsigned long long)(res->rejected - im->errors_shown));
out:
    res->customers = res->inserted + res->updated;
    res->seconds = cu_monotonic() - start;
    if (im->rejects != NULL && fclose(im->rejects) != 0 && rc == CU_OK)
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s'", opts->rejects_path);
    model_customer_release(&im->cur);
    model_customer_release(&im->old);
    model_customer_release(&im->fresh);
    store_customer_release(&im->existing);
    buf_release_wipe(&im->cur_raw);
    buf_release(&im->cur_raw_meta);
    buf_release(&im->header_raw);
    free(im->writer_err);
    free(im->reader_err);
    erased_release(im);
    if (val != NULL) {
        model_customer_release(&val->cur);
        buf_release_wipe(&val->cur_raw);
        buf_release(&val->cur_raw_meta);
        free(val->reader_err);
        free(val);
    }
    free(im);
    return rc;
}

/* --- validation alone (service_int.h; the fuzz targets' entry) ---------- */

int service_import_validate(struct service *svc, const struct service_import_opts *opts,
                            struct service_import_result *res, char **errmsg)
{
    struct import *im = xcalloc(1, sizeof(*im));
    int rc = CU_OK;

    memset(res, 0, sizeof(*res));
    im->svc = svc;
    im->opts = opts;
    im->res = res;
    im->format = opts->format == SERVICE_FORMAT_AUTO ? guess_format(opts->path) : opts->format;
    model_customer_init(&im->cur);
    if (opts->rejects_path != NULL) {
        rc = rejects_open(im, opts->rejects_path, errmsg);
    }
    if (rc == CU_OK)
        rc = run_pass(im, 1, errmsg);
    if (im->rejects != NULL)
        fclose(im->rejects);
    model_customer_release(&im->cur);
    buf_release_wipe(&im->cur_raw);
    buf_release(&im->cur_raw_meta);
    buf_release(&im->header_raw);
    free(im);
    return rc;
}
