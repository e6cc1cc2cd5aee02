/*
 * Unit tests of the store, through the public interface.  Each test works
 * in its own temporary folder under /tmp, removed after, on the SQLite back
 * end; and, when CUSTODIAN_TEST_STORE names a PostgreSQL server
 * ("postgres://USER@HOST:PORT/DB", as tests/run sets it from tests/pg.sh),
 * the same tests run again on the PostgreSQL back end, each in a database
 * of its own (fx->pg; fx->path is then the store's URL).  Checks of
 * SQLite's files (WAL, secure_delete, the index file) run on SQLite only;
 * the PostgreSQL group has tests of its own at the end (test_pg_*).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <sqlite3.h>
#ifdef CU_STORE_PG
#include <libpq-fe.h>
#endif

#include "store/store_int.h"

/* The schema version this code migrates to. */
#define SCHEMA_NOW 17

struct fx {
    char dir[64];
    char path[320]; /* SQLite: the file; PostgreSQL: the store's URL */
    struct store *s;
    int pg;          /* the PostgreSQL back end */
    char schema[32]; /* ... its schema, dropped after the test */
};

#ifdef CU_STORE_PG
/* The PostgreSQL server of the second group ("postgres://.../DB"), or
 * NULL; the database made for this run on it (creating a database takes
 * 0.4 s, a schema milliseconds: each test has a schema of its own). */
static const char *pg_base;
static char pg_db[64];
static char pg_db_url[320];
#endif

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

#ifdef CU_STORE_PG
static int is_pg(const char *path)
{
    return strncmp(path, "postgres", 8) == 0;
}

/* Runs SQL (several statements allowed) on a connection of its own to the
 * PostgreSQL database `url`; returns the first column of the first row of
 * the last statement as an int (0 when there is none). */
static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_raw(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r;
    int v = 0;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

/* The URL of the run's database with `schema` first in its search path. */
static void pg_schema_url(char *out, size_t len, const char *schema)
{
    snprintf(out, len, "%.250s?options=-csearch_path%%3D%.40s", pg_db_url, schema);
}

static int setup_pg(void **state)
{
    static int counter;
    struct fx *fx = calloc(1, sizeof(*fx));
    char sql[128], *err = NULL;

    fx->pg = 1;
    strcpy(fx->dir, "/tmp/cu-test-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->schema, sizeof(fx->schema), "t%d", ++counter);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", fx->schema);
    pg_raw(pg_db_url, sql);
    pg_schema_url(fx->path, sizeof(fx->path), fx->schema);
    if (store_open(&fx->s, fx->path, &err) != CU_OK) {
        fprintf(stderr, "setup: %s\n", err);
        free(err);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}
#endif

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char *err = NULL;

    strcpy(fx->dir, "/tmp/cu-test-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof(fx->path), "%s/store.db", fx->dir);
    if (store_open(&fx->s, fx->path, &err) != CU_OK) {
        fprintf(stderr, "setup: %s\n", err);
        free(err);
        nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    store_free(fx->s);
    nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
#ifdef CU_STORE_PG
    if (fx->pg) {
        char sql[128];

        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", fx->schema);
        pg_raw(pg_db_url, sql);
    }
#endif
    free(fx);
    return 0;
}

/* Reopens the store of the fixture. */
static void reopen(struct fx *fx)
{
    store_free(fx->s);
    fx->s = NULL;
    assert_int_equal(store_open(&fx->s, fx->path, NULL), CU_OK);
}

/* Runs one SQL statement on its own connection; returns the first column
 * of the first row as an int (0 when there is none). */
static int raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = 0;

#ifdef CU_STORE_PG
    if (is_pg(path))
        return pg_raw(path, sql);
#endif
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs SQL (several statements allowed) on its own connection. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;

#ifdef CU_STORE_PG
    if (is_pg(path)) {
        pg_raw(path, sql);
        return;
    }
#endif
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The schema version as the database records it (PRAGMA user_version,
 * custodian_store.version). */
static int raw_version(const struct fx *fx)
{
    return raw_int(fx->path,
                   fx->pg ? "SELECT version FROM custodian_store" : "PRAGMA user_version");
}

/* How many of the tables named in `list` (an SQL list of quoted names) the
 * store's database (SQLite) or schema (PostgreSQL) holds. */
static int raw_tables(const struct fx *fx, const char *list)
{
    char sql[512];

    if (fx->pg)
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                 " AND tablename IN (%s)",
                 list);
    else
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE name IN (%s)", list);
    return raw_int(fx->path, sql);
}

/* Fills c as customer number n with distinct content everywhere. */
static void make_customer(struct store_customer *c, int n, int nblind)
{
    char tmp[64];
    int f, i;

    store_customer_reset(c);
    snprintf(tmp, sizeof(tmp), "C%08d", n);
    c->customer_id = strdup(tmp);
    c->kek_version = 1;
    c->dek_version = 1;
    snprintf(tmp, sizeof(tmp), "dek-%d", n);
    buf_addstr(&c->wrapped_dek, tmp);
    for (f = 0; f < MODEL_F__COUNT; f++) {
        snprintf(tmp, sizeof(tmp), "sealed-%d-%d", n, f);
        buf_addstr(&c->sealed[f], tmp);
        buf_addch(&c->sealed[f], '\0'); /* binary content survives */
        buf_addch(&c->sealed[f], (char)0xff);
    }
    for (i = 0; i < nblind; i++)
        store_customer_add_blind(c, (uint8_t)(1 + i % 5),
                                 0x9e3779b97f4a7c15ull * (uint64_t)(n * 16 + i + 1));
    c->import_run = 7;
}

static void insert_n(struct store *s, int from, int to)
{
    struct store_customer c;
    int n;

    store_customer_init(&c);
    for (n = from; n < to; n++) {
        make_customer(&c, n, 3);
        assert_int_equal(store_customer_insert(s, &c, NULL), CU_OK);
    }
    store_customer_release(&c);
}

static void assert_buf_equal(const struct buf *a, const struct buf *b)
{
    assert_int_equal(a->len, b->len);
    if (a->len > 0)
        assert_memory_equal(a->data, b->data, a->len);
}

static void assert_customer_equal(const struct store_customer *a, const struct store_customer *b)
{
    size_t i;
    int f;

    assert_int_equal(a->id, b->id);
    assert_string_equal(a->customer_id, b->customer_id);
    assert_int_equal(a->kek_version, b->kek_version);
    assert_int_equal(a->dek_version, b->dek_version);
    assert_buf_equal(&a->wrapped_dek, &b->wrapped_dek);
    for (f = 0; f < MODEL_F__COUNT; f++)
        assert_buf_equal(&a->sealed[f], &b->sealed[f]);
    assert_int_equal(a->nblind, b->nblind);
    for (i = 0; i < a->nblind; i++) {
        assert_int_equal(a->blind[i].kind, b->blind[i].kind);
        assert_true(a->blind[i].hash == b->blind[i].hash);
    }
    assert_int_equal(a->import_run, b->import_run);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
}

static size_t find_n(struct store *s, uint8_t kind, uint64_t hash)
{
    int64_t ids[16];
    size_t n = 99;

    assert_int_equal(store_blind_find(s, kind, hash, ids, 16, &n, NULL), CU_OK);
    return n;
}

static void test_open_creates_and_migrates(void **state)
{
    struct fx *fx = *state;
    char wal[360];
    struct stat st;
    int64_t n;

    assert_int_equal(store_schema_version(fx->s), SCHEMA_NOW);
    assert_int_equal(raw_version(fx), SCHEMA_NOW);
    if (fx->pg) {
        /* every table in the store's schema, the audit index's included */
        assert_int_equal(raw_tables(fx, "'meta', 'keks', 'customers', 'blind', 'audit_entries',"
                                        " 'audit_index', 'audit_tiles', 'audit_checkpoints'"),
                         8);
        assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
        assert_int_equal(n, 0);
        return;
    }
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                       "('meta', 'keks', 'customers', 'blind', 'audit_entries',"
                                       " 'audit_index', 'audit_tiles',"
                                       " 'audit_checkpoints')"),
                     7); /* the audit index has a file of its own */
    assert_int_equal(raw_int(fx->path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
    /* a write creates the -wal and -shm files; all private to the owner */
    assert_int_equal(store_meta_set(fx->s, "k", "v", NULL), CU_OK);
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof(wal), "%s-wal", fx->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof(wal), "%s-shm", fx->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
}

static void test_reopen_keeps_data(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    char *v = NULL;
    int64_t n;

    insert_n(fx->s, 0, 5);
    assert_int_equal(store_meta_set(fx->s, "import_run", "3", NULL), CU_OK);
    reopen(fx);
    assert_int_equal(store_schema_version(fx->s), SCHEMA_NOW);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 5);
    store_customer_init(&c);
    assert_int_equal(store_customer_get(fx->s, "C00000004", &c, NULL), CU_OK);
    assert_int_equal(c.nblind, 3);
    store_customer_release(&c);
    assert_int_equal(store_meta_get(fx->s, "import_run", &v, NULL), CU_OK);
    assert_string_equal(v, "3");
    free(v);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *fx = *state;
    struct store *s2 = NULL;
    char *err = NULL;

    char sql[64], want[64];

    store_free(fx->s);
    fx->s = NULL;
    /* one version past this code's (SCHEMA_NOW is all a new migration bumps) */
    if (fx->pg)
        snprintf(sql, sizeof(sql), "UPDATE custodian_store SET version = %d", SCHEMA_NOW + 1);
    else
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_NOW + 1);
    snprintf(want, sizeof(want), "schema version %d", SCHEMA_NOW + 1);
    raw_int(fx->path, sql);
    assert_int_equal(store_open(&s2, fx->path, &err), CU_ERR_STORE);
    assert_null(s2);
    assert_non_null(err);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "newer"));
    free(err);
    /* refused without being touched */
    assert_int_equal(raw_version(fx), SCHEMA_NOW + 1);
}

static void test_foreign_files_refused(void **state)
{
    struct fx *fx = *state;
    char path[400];
    struct store *s2 = NULL;
    char *err = NULL;
    FILE *f;

#ifdef CU_STORE_PG
    if (fx->pg) {
        /* another program's tables in the schema: refused, untouched; an
         * empty schema of the same database holds a store of its own */
        char sql[256];

        snprintf(sql, sizeof(sql),
                 "CREATE SCHEMA %s_other; CREATE TABLE %s_other.t(x int); CREATE SCHEMA %s_second",
                 fx->schema, fx->schema, fx->schema);
        raw_exec(fx->path, sql);
        snprintf(sql, sizeof(sql), "%s_other", fx->schema);
        pg_schema_url(path, sizeof(path), sql);
        assert_int_equal(store_open(&s2, path, &err), CU_ERR_STORE);
        assert_null(s2);
        assert_non_null(strstr(err, "not a custodian store"));
        free(err);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_tables WHERE schemaname = '%s_other'",
                 fx->schema);
        assert_int_equal(raw_int(fx->path, sql), 1);
        snprintf(sql, sizeof(sql), "%s_second", fx->schema);
        pg_schema_url(path, sizeof(path), sql);
        assert_int_equal(store_open(&s2, path, NULL), CU_OK);
        insert_n(s2, 0, 3);
        store_free(s2);
        assert_int_equal(raw_int(path, "SELECT count(*) FROM customers"), 3);
        assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM customers"), 0);
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s_other CASCADE; DROP SCHEMA %s_second CASCADE",
                 fx->schema, fx->schema);
        raw_exec(fx->path, sql);
        return;
    }
#endif

    /* not a database at all */
    snprintf(path, sizeof(path), "%s/junk.db", fx->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an sqlite database, just some text long enough to be read", f);
    fclose(f);
    assert_int_equal(store_open(&s2, path, &err), CU_ERR_STORE);
    assert_non_null(strstr(err, "not a database"));
    free(err);
    err = NULL;
    /* some other program's SQLite database */
    snprintf(path, sizeof(path), "%s/other.db", fx->dir);
    raw_int(path, "CREATE TABLE t(x)");
    assert_int_equal(store_open(&s2, path, &err), CU_ERR_STORE);
    assert_non_null(strstr(err, "not a custodian store"));
    free(err);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master"), 1);
}

static void test_url_schemes(void **state)
{
    struct fx *fx = *state;
    char url[400];
    struct store *s2 = NULL;
    char *err = NULL;

    assert_int_equal(store_open(&s2, "ftp://host/x.db", &err), CU_ERR_INVALID);
    assert_null(s2);
    assert_non_null(strstr(err, "\"ftp\""));
    free(err);
    err = NULL;
    /* never echo the rest of a URL: it may hold a password */
    assert_int_equal(store_open(&s2, "mysql://user:hunter2@db/x", &err), CU_ERR_INVALID);
    assert_null(strstr(err, "hunter2"));
    free(err);
    err = NULL;
#ifdef CU_STORE_PG
    /* nothing listens on port 1: the error names the server, not the
     * password */
    assert_int_equal(store_open(&s2, "postgres://user:hunter2@127.0.0.1:1/x", &err), CU_ERR_STORE);
    assert_null(s2);
    assert_non_null(strstr(err, "127.0.0.1:1/x"));
    assert_null(strstr(err, "hunter2"));
    free(err);
    err = NULL;
    assert_int_equal(store_open(&s2, "postgresql://127.0.0.1:1/x", &err), CU_ERR_STORE);
    assert_non_null(strstr(err, "postgresql"));
    free(err);
    err = NULL;
    assert_int_equal(store_open(&s2, "postgres://user:hunter2@db/x?no_such_option=1", &err),
                     CU_ERR_INVALID);
    assert_null(strstr(err, "hunter2"));
    free(err);
    err = NULL;
#else
    assert_int_equal(store_open(&s2, "postgres://user:hunter2@db/x", &err), CU_ERR_INVALID);
    assert_non_null(strstr(err, "postgresql support is not built in"));
    assert_null(strstr(err, "hunter2"));
    free(err);
    err = NULL;
    assert_int_equal(store_open(&s2, "postgresql://db/x", &err), CU_ERR_INVALID);
    assert_non_null(strstr(err, "postgresql"));
    free(err);
    err = NULL;
#endif
    assert_int_equal(store_open(&s2, "", &err), CU_ERR_INVALID);
    free(err);
    err = NULL;
    assert_int_equal(store_open(&s2, "sqlite:", &err), CU_ERR_INVALID);
    free(err);

    /* "sqlite:PATH" and "sqlite://PATH" name the same file as PATH */
    insert_n(fx->s, 0, 2);
    store_free(fx->s);
    fx->s = NULL;
    snprintf(url, sizeof(url), "sqlite:%s", fx->path);
    assert_int_equal(store_open(&fx->s, url, NULL), CU_OK);
    assert_int_equal(find_n(fx->s, 1, 0x9e3779b97f4a7c15ull * 1), 1);
    store_free(fx->s);
    snprintf(url, sizeof(url), "sqlite://%s", fx->path);
    assert_int_equal(store_open(&fx->s, url, NULL), CU_OK);
    assert_int_equal(find_n(fx->s, 1, 0x9e3779b97f4a7c15ull * 1), 1);
}

static void test_insert_get_roundtrip(void **state)
{
    struct fx *fx = *state;
    struct store_customer c, got;
    char *err = NULL;

    store_customer_init(&c);
    store_customer_init(&got);
    make_customer(&c, 42, 7);
    buf_reset(&c.sealed[MODEL_F_BIRTH_DATE]);    /* an absent field */
    store_customer_add_blind(&c, 3, UINT64_MAX); /* hashes above INT64_MAX survive */
    store_customer_add_blind(&c, 3, 0);
    c.kek_version = 4;
    c.dek_version = 9;
    c.created_at = 1700000000;
    c.updated_at = 1700000100;
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_true(c.id > 0);

    assert_int_equal(store_customer_get(fx->s, "C00000042", &got, NULL), CU_OK);
    assert_customer_equal(&c, &got);
    assert_int_equal(got.sealed[MODEL_F_BIRTH_DATE].len, 0);
    assert_int_equal(store_customer_get_by_id(fx->s, c.id, &got, NULL), CU_OK);
    assert_customer_equal(&c, &got);
    assert_int_equal(find_n(fx->s, 3, UINT64_MAX), 1);
    assert_int_equal(find_n(fx->s, 3, 0), 1);

    assert_int_equal(store_customer_get(fx->s, "C99", &got, &err), CU_ERR_NOT_FOUND);
    assert_non_null(err);
    free(err);
    assert_null(got.customer_id);
    assert_int_equal(store_customer_get_by_id(fx->s, c.id + 1, &got, NULL), CU_ERR_NOT_FOUND);

    /* times default to now */
    make_customer(&c, 43, 1);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_true(c.created_at >= cu_now() - 5 && c.updated_at == c.created_at);
    store_customer_release(&c);
    store_customer_release(&got);
}

static void test_insert_conflict(void **state)
{
    struct fx *fx = *state;
    struct store_customer c, got;
    char *err = NULL;
    int64_t n;

    store_customer_init(&c);
    store_customer_init(&got);
    make_customer(&c, 1, 2);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);

    /* same customer id, new blind entries: refused, nothing written */
    store_customer_add_blind(&c, 5, 0x1234);
    assert_int_equal(store_customer_insert(fx->s, &c, &err), CU_ERR_CONFLICT);
    assert_non_null(err);
    assert_non_null(strstr(err, "insert customer"));
    free(err);
    assert_int_equal(find_n(fx->s, 5, 0x1234), 0);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 1);

    /* inside a transaction: the conflict undoes only itself */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    insert_n(fx->s, 10, 12);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_ERR_CONFLICT);
    assert_int_equal(find_n(fx->s, 5, 0x1234), 0);
    insert_n(fx->s, 12, 13);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 4);
    assert_int_equal(find_n(fx->s, 5, 0x1234), 0);
    assert_int_equal(store_customer_get(fx->s, "C00000001", &got, NULL), CU_OK);
    assert_int_equal(got.nblind, 2);
    store_customer_release(&c);
    store_customer_release(&got);
}

static void test_replace(void **state)
{
    struct fx *fx = *state;
    struct store_customer c, got;
    int64_t id, created, ids[4];
    size_t n;
    char *err = NULL;

    store_customer_init(&c);
    store_customer_init(&got);
    make_customer(&c, 1, 0);
    store_customer_add_blind(&c, 1, 111);
    store_customer_add_blind(&c, 3, 333);
    store_customer_add_blind(&c, 4, 444);
    store_customer_add_blind(&c, 5, UINT64_MAX - 5); /* hashes past INT64_MAX: */
    store_customer_add_blind(&c, 5, UINT64_MAX - 6); /* one kept, one dropped */
    c.created_at = 1000;
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    id = c.id;
    created = c.created_at;
    insert_n(fx->s, 2, 4); /* neighbours that must stay intact */
    make_customer(&c, 2, 3);
    store_customer_add_blind(&c, 3, 333); /* customer 2 shares a phone */
    assert_int_equal(store_customer_replace(fx->s, &c, NULL), CU_OK);

    make_customer(&c, 1, 0);
    store_customer_add_blind(&c, 1, 111); /* kept */
    store_customer_add_blind(&c, 1, 555); /* new */
    store_customer_add_blind(&c, 5, UINT64_MAX - 5);
    buf_reset(&c.sealed[MODEL_F_NAME]);
    buf_addstr(&c.sealed[MODEL_F_NAME], "new name blob");
    c.kek_version = 2;
    c.updated_at = 2000;
    assert_int_equal(store_customer_replace(fx->s, &c, NULL), CU_OK);
    assert_int_equal(c.id, id);
    assert_int_equal(c.created_at, created);

    assert_int_equal(store_customer_get(fx->s, "C00000001", &got, NULL), CU_OK);
    assert_customer_equal(&c, &got);
    assert_int_equal(store_blind_find(fx->s, 1, 111, ids, 4, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], id);
    assert_int_equal(find_n(fx->s, 1, 555), 1);
    assert_int_equal(find_n(fx->s, 4, 444), 0);
    assert_int_equal(find_n(fx->s, 5, UINT64_MAX - 5), 1);
    assert_int_equal(find_n(fx->s, 5, UINT64_MAX - 6), 0);
    /* 333 now belongs to customer 2 only */
    assert_int_equal(store_blind_find(fx->s, 3, 333, ids, 4, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    assert_int_not_equal(ids[0], id);
    /* the neighbours kept theirs */
    assert_int_equal(store_customer_get(fx->s, "C00000003", &got, NULL), CU_OK);
    assert_int_equal(find_n(fx->s, got.blind[0].kind, got.blind[0].hash), 1);

    make_customer(&c, 99, 1);
    assert_int_equal(store_customer_replace(fx->s, &c, &err), CU_ERR_NOT_FOUND);
    free(err);
    assert_int_equal(find_n(fx->s, c.blind[0].kind, c.blind[0].hash), 0);
    store_customer_release(&c);
    store_customer_release(&got);
}

static void test_blind_find(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    int64_t ids[8], want[5];
    size_t n;
    int i;

    store_customer_init(&c);
    for (i = 0; i < 5; i++) {
        make_customer(&c, 100 + i, 0);
        store_customer_add_blind(&c, 1, 7); /* a shared IMEI */
        if (i % 2 == 0)
            store_customer_add_blind(&c, 2, 7); /* same hash, other kind */
        store_customer_add_blind(&c, 1, 7);     /* duplicate within one customer */
        assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
        want[i] = c.id;
    }
    insert_n(fx->s, 0, 3);
    assert_int_equal(store_blind_find(fx->s, 1, 7, ids, 8, &n, NULL), CU_OK);
    assert_int_equal(n, 5);
    for (i = 0; i < 5; i++)
        assert_int_equal(ids[i], want[i]);
    assert_int_equal(store_blind_find(fx->s, 2, 7, ids, 8, &n, NULL), CU_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], want[0]);
    assert_int_equal(ids[1], want[2]);
    assert_int_equal(ids[2], want[4]);
    /* max is respected */
    ids[2] = -1;
    assert_int_equal(store_blind_find(fx->s, 1, 7, ids, 2, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[2], -1);
    assert_int_equal(store_blind_find(fx->s, 1, 7, ids, 0, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    assert_int_equal(find_n(fx->s, 3, 7), 0);
    assert_int_equal(find_n(fx->s, 1, 8), 0);
    store_customer_release(&c);
}

static void test_rollback(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    char *err = NULL, *v = NULL;
    int64_t n;

    store_customer_init(&c);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_begin(fx->s, &err), CU_ERR_INTERNAL); /* not nested */
    free(err);
    err = NULL;
    make_customer(&c, 5, 2);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_int_equal(store_meta_set(fx->s, "k", "v", NULL), CU_OK);
    store_rollback(fx->s);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    assert_int_equal(find_n(fx->s, c.blind[0].kind, c.blind[0].hash), 0);
    assert_int_equal(store_customer_get(fx->s, "C00000005", &c, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_meta_get(fx->s, "k", &v, NULL), CU_ERR_NOT_FOUND);
    assert_null(v);
    store_rollback(fx->s); /* harmless without a transaction */
    assert_int_equal(store_commit(fx->s, &err), CU_ERR_INTERNAL);
    free(err);

    /* and a committed one stays, across a reopen */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    insert_n(fx->s, 0, 3);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    reopen(fx);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 3);
    store_customer_release(&c);
}

/* Blind rows written inside a transaction: visible to its own look-ups,
 * replaceable before commit, gone on rollback, all there after commit. */
static void test_blind_in_transaction(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    int64_t ids[4];
    uint64_t last;
    size_t n;
    int i, ncust;

    store_customer_init(&c);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    make_customer(&c, 1, 0);
    store_customer_add_blind(&c, 1, 1001);
    store_customer_add_blind(&c, 2, 1002);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_int_equal(store_blind_find(fx->s, 1, 1001, ids, 4, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], c.id);
    make_customer(&c, 2, 0);
    store_customer_add_blind(&c, 1, 2001);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    /* replaced in the transaction that inserted it */
    make_customer(&c, 2, 0);
    store_customer_add_blind(&c, 1, 2002);
    assert_int_equal(store_customer_replace(fx->s, &c, NULL), CU_OK);
    make_customer(&c, 3, 0);
    store_customer_add_blind(&c, 1, 3001);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(find_n(fx->s, 1, 1001), 1);
    assert_int_equal(find_n(fx->s, 2, 1002), 1);
    assert_int_equal(find_n(fx->s, 1, 2001), 0);
    assert_int_equal(find_n(fx->s, 1, 2002), 1);
    assert_int_equal(find_n(fx->s, 1, 3001), 1);
    /* a rolled-back replace leaves the old entries */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    make_customer(&c, 1, 0);
    store_customer_add_blind(&c, 1, 1003);
    assert_int_equal(store_customer_replace(fx->s, &c, NULL), CU_OK);
    store_rollback(fx->s);
    assert_int_equal(find_n(fx->s, 1, 1003), 0);
    assert_int_equal(find_n(fx->s, 1, 1001), 1);
    assert_int_equal(find_n(fx->s, 2, 1002), 1);

    /* more rows than the queue holds: part flushed during the transaction
     * (SQLite's queue; PostgreSQL has none, and a tenth of the rows) */
    ncust = fx->pg ? 10 : 100;
    last = (uint64_t)(ncust - 1) * 1000003u + 2999 * 7919u;
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    for (i = 0; i < ncust; i++) {
        int k;

        make_customer(&c, 100 + i, 0);
        for (k = 0; k < 3000; k++)
            store_customer_add_blind(&c, 4, (uint64_t)i * 1000003u + (uint64_t)k * 7919u);
        assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    }
    assert_int_equal(find_n(fx->s, 4, last), 1);
    store_rollback(fx->s);
    assert_int_equal(find_n(fx->s, 4, 0), 0);
    assert_int_equal(find_n(fx->s, 4, last), 0);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM blind"), 4);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    for (i = 0; i < ncust; i++) {
        int k;

        make_customer(&c, 100 + i, 0);
        for (k = 0; k < 3000; k++)
            store_customer_add_blind(&c, 4, (uint64_t)i * 1000003u + (uint64_t)k * 7919u);
        assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    }
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM blind"), 4 + ncust * 3000);
    store_customer_release(&c);
}

struct scan_ctx {
    int64_t ids[32];
    size_t n;
    size_t stop_at; /* return 42 on this call (1-based), 0: never */
};

static int scan_cb(void *ctx, int64_t id, const char *customer_id, uint32_t kek_version,
                   const void *wrapped, size_t len)
{
    struct scan_ctx *sc = ctx;
    char want[32];

    assert_int_equal(kek_version, 1);
    snprintf(want, sizeof(want), "dek-%d", atoi(customer_id + 1));
    assert_int_equal(len, strlen(want));
    assert_memory_equal(wrapped, want, len);
    sc->ids[sc->n++] = id;
    return sc->stop_at != 0 && sc->n == sc->stop_at ? 42 : 0;
}

static int rewrap_cb(void *ctx, int64_t id, const char *customer_id, uint32_t kek_version,
                     const void *wrapped, size_t len)
{
    (void)customer_id;
    (void)kek_version;
    /* updating the rows being scanned is what rotation does */
    return store_dek_update(ctx, id, 2, wrapped, len, NULL);
}

static void test_dek_scan(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    struct scan_ctx sc;
    int64_t want[10], usage;
    size_t nwant = 0, i;
    int n;

    store_customer_init(&c);
    for (n = 0; n < 20; n++) {
        make_customer(&c, n, 1);
        c.kek_version = n % 2 ? 2 : 1;
        assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
        if (c.kek_version == 1)
            want[nwant++] = c.id;
    }
    /* pages of 3 of the customers not on KEK 2, in id order */
    memset(&sc, 0, sizeof(sc));
    i = 0;
    for (;;) {
        size_t before = sc.n;

        assert_int_equal(
            store_dek_scan(fx->s, 2, sc.n ? sc.ids[sc.n - 1] : 0, 3, scan_cb, &sc, NULL), CU_OK);
        if (sc.n == before)
            break;
        assert_true(sc.n - before <= 3);
        i++;
    }
    assert_int_equal(i, 4);
    assert_int_equal(sc.n, nwant);
    assert_memory_equal(sc.ids, want, nwant * sizeof(int64_t));
    /* after_id skips */
    memset(&sc, 0, sizeof(sc));
    assert_int_equal(store_dek_scan(fx->s, 2, want[7], 100, scan_cb, &sc, NULL), CU_OK);
    assert_int_equal(sc.n, 2);
    assert_int_equal(sc.ids[0], want[8]);
    /* a non-zero callback result stops the scan and is returned */
    memset(&sc, 0, sizeof(sc));
    sc.stop_at = 2;
    assert_int_equal(store_dek_scan(fx->s, 2, 0, 100, scan_cb, &sc, NULL), 42);
    assert_int_equal(sc.n, 2);

    /* rotate everything onto KEK 2 with the scan */
    assert_int_equal(store_kek_usage(fx->s, 1, &usage, NULL), CU_OK);
    assert_int_equal(usage, 10);
    assert_int_equal(store_dek_scan(fx->s, 2, 0, 100, rewrap_cb, fx->s, NULL), CU_OK);
    assert_int_equal(store_kek_usage(fx->s, 1, &usage, NULL), CU_OK);
    assert_int_equal(usage, 0);
    assert_int_equal(store_kek_usage(fx->s, 2, &usage, NULL), CU_OK);
    assert_int_equal(usage, 20);
    store_customer_release(&c);
}

/* Another connection's writer, on a thread of its own (the lock tests):
 * its store, what it writes, whether it is done and how it ended. */
struct other_writer {
    struct store *s;
    struct store_customer *c;
    _Atomic int done;
    int rc;
};

static void *replace_main(void *arg)
{
    struct other_writer *r = arg;

    r->rc = store_customer_replace(r->s, r->c, NULL);
    r->done = 1;
    return NULL;
}

/* A rotation's batch holds the rows it scanned until it commits: a
 * replacement of one of them (a re-import with a new data key) made
 * meanwhile on another connection lands after the rotation, instead of
 * being overwritten by the re-wrapped old key (its customer then could
 * never be read again). */
static void test_dek_scan_holds_rows(void **state)
{
    struct fx *fx = *state;
    struct store_customer c, fresh, got;
    struct store *s2 = NULL;
    struct scan_ctx sc;
    struct other_writer r;
    pthread_t t;

    store_customer_init(&c);
    store_customer_init(&fresh);
    store_customer_init(&got);
    make_customer(&c, 1, 1);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    make_customer(&fresh, 1, 1);
    fresh.dek_version = 2;
    buf_reset(&fresh.wrapped_dek);
    buf_addstr(&fresh.wrapped_dek, "new-dek");
    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);

    memset(&sc, 0, sizeof(sc));
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_dek_scan(fx->s, 2, 0, 10, scan_cb, &sc, NULL), CU_OK);
    assert_int_equal(sc.n, 1);
    r = (struct other_writer){.s = s2, .c = &fresh, .rc = -1};
    assert_int_equal(pthread_create(&t, NULL, replace_main, &r), 0);
    usleep(300 * 1000); /* the replacement has run into the rotation's lock */
    assert_int_equal(store_dek_update(fx->s, sc.ids[0], 2, "dek-1", 5, NULL), CU_OK);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.rc, CU_OK);

    assert_int_equal(store_customer_get(fx->s, "C00000001", &got, NULL), CU_OK);
    assert_int_equal(got.dek_version, 2);
    assert_int_equal(got.wrapped_dek.len, 7);
    assert_memory_equal(got.wrapped_dek.data, "new-dek", 7);
    store_free(s2);
    store_customer_release(&c);
    store_customer_release(&fresh);
    store_customer_release(&got);
}

static void test_dek_update_and_usage(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    int64_t usage;
    char *err = NULL;

    store_customer_init(&c);
    insert_n(fx->s, 0, 4);
    assert_int_equal(store_kek_usage(fx->s, 1, &usage, NULL), CU_OK);
    assert_int_equal(usage, 4);
    assert_int_equal(store_kek_usage(fx->s, 3, &usage, NULL), CU_OK);
    assert_int_equal(usage, 0);
    assert_int_equal(store_customer_get(fx->s, "C00000002", &c, NULL), CU_OK);
    assert_int_equal(store_dek_update(fx->s, c.id, 3, "rewrapped", 9, NULL), CU_OK);
    assert_int_equal(store_kek_usage(fx->s, 1, &usage, NULL), CU_OK);
    assert_int_equal(usage, 3);
    assert_int_equal(store_kek_usage(fx->s, 3, &usage, NULL), CU_OK);
    assert_int_equal(usage, 1);
    assert_int_equal(store_customer_get_by_id(fx->s, c.id, &c, NULL), CU_OK);
    assert_int_equal(c.kek_version, 3);
    assert_int_equal(c.dek_version, 1);
    assert_int_equal(c.wrapped_dek.len, 9);
    assert_memory_equal(c.wrapped_dek.data, "rewrapped", 9);
    assert_int_equal(c.sealed[MODEL_F_NAME].len, strlen("sealed-2-1") + 2);
    assert_int_equal(store_dek_update(fx->s, 9999, 3, "x", 1, &err), CU_ERR_NOT_FOUND);
    free(err);
    store_customer_release(&c);
}

static void test_kek_put_list(void **state)
{
    struct fx *fx = *state;
    struct store_kek k = {0}, *list;
    size_t n;

    assert_int_equal(store_kek_list(fx->s, &list, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    store_kek_list_free(list, n);

    buf_init(&k.wrapped);
    k.version = 2;
    k.state = STORE_KEK_ACTIVE;
    buf_addstr(&k.wrapped, "wrapped-2");
    k.created_at = 200;
    assert_int_equal(store_kek_put(fx->s, &k, NULL), CU_OK);
    k.version = 1;
    buf_reset(&k.wrapped);
    buf_addstr(&k.wrapped, "wrapped-1");
    k.created_at = 100;
    assert_int_equal(store_kek_put(fx->s, &k, NULL), CU_OK);
    /* version 1 drains, then retires with its wrapped key gone */
    k.state = STORE_KEK_DRAINING;
    k.created_at = 999; /* creation time is kept on update */
    assert_int_equal(store_kek_put(fx->s, &k, NULL), CU_OK);
    assert_int_equal(store_kek_list(fx->s, &list, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 1);
    assert_int_equal(list[0].state, STORE_KEK_DRAINING);
    assert_int_equal(list[0].created_at, 100);
    assert_int_equal(list[0].wrapped.len, 9);
    assert_memory_equal(list[0].wrapped.data, "wrapped-1", 9);
    assert_int_equal(list[1].version, 2);
    assert_int_equal(list[1].state, STORE_KEK_ACTIVE);
    assert_memory_equal(list[1].wrapped.data, "wrapped-2", 9);
    store_kek_list_free(list, n);

    k.state = STORE_KEK_RETIRED;
    buf_reset(&k.wrapped);
    assert_int_equal(store_kek_put(fx->s, &k, NULL), CU_OK);
    assert_int_equal(store_kek_list(fx->s, &list, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].state, STORE_KEK_RETIRED);
    assert_int_equal(list[0].wrapped.len, 0);
    store_kek_list_free(list, n);
    buf_release(&k.wrapped);
}

/* A rotation's first step: the active KEK 1 starts draining. */
static void *drain_main(void *arg)
{
    struct other_writer *d = arg;
    struct store_kek k = {.version = 1, .state = STORE_KEK_DRAINING};

    buf_init(&k.wrapped);
    d->rc = store_begin(d->s, NULL);
    if (d->rc == CU_OK)
        d->rc = store_kek_put(d->s, &k, NULL);
    if (d->rc == CU_OK)
        d->rc = store_commit(d->s, NULL);
    d->done = 1;
    return NULL;
}

/* store_kek_hold: the active KEK stays active until the holder commits,
 * so a rotation never starts between a writer's check and its commit. */
static void test_kek_hold(void **state)
{
    struct fx *fx = *state;
    struct store_kek k = {.version = 1, .state = STORE_KEK_ACTIVE};
    struct other_writer d = {0};
    uint32_t active = 99;
    pthread_t t;

    buf_init(&k.wrapped);
    assert_int_equal(store_kek_hold(fx->s, &active, NULL), CU_OK);
    assert_int_equal(active, 0); /* none yet */
    assert_int_equal(store_kek_put(fx->s, &k, NULL), CU_OK);
    assert_int_equal(store_open(&d.s, fx->path, NULL), CU_OK);

    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_kek_hold(fx->s, &active, NULL), CU_OK);
    assert_int_equal(active, 1);
    assert_int_equal(pthread_create(&t, NULL, drain_main, &d), 0);
    usleep(300 * 1000);
    assert_int_equal(d.done, 0); /* waits for the holder */
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(d.rc, CU_OK);
    assert_int_equal(store_kek_hold(fx->s, &active, NULL), CU_OK);
    assert_int_equal(active, 0);
    store_free(d.s);
}

static void staff_fill(struct store_staff *st, const char *username, const char *role);

static void *suspend_main(void *arg)
{
    struct other_writer *d = arg;
    struct store_staff st;

    store_staff_init(&st);
    d->rc = store_begin(d->s, NULL);
    if (d->rc == CU_OK)
        d->rc = store_staff_lock(d->s, "alice", &st, NULL);
    st.suspended = 1;
    if (d->rc == CU_OK)
        d->rc = store_staff_put(d->s, &st, 0, NULL);
    if (d->rc == CU_OK)
        d->rc = store_commit(d->s, NULL);
    store_staff_release(&st);
    d->done = 1;
    return NULL;
}

/* store_staff_lock: another locking reader of the account (a suspension,
 * through service_staff_edit) waits for the holder's commit and reads what
 * it wrote, so a log-in's read-check-write and a suspension never lose
 * each other's change. */
static void test_staff_lock(void **state)
{
    struct fx *fx = *state;
    struct store_staff st;
    struct other_writer d = {0};
    pthread_t t;

    staff_fill(&st, "alice", "clerk");
    assert_int_equal(store_staff_put(fx->s, &st, 1, NULL), CU_OK);
    store_staff_release(&st);
    assert_int_equal(store_open(&d.s, fx->path, NULL), CU_OK);

    store_staff_init(&st);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_staff_lock(fx->s, "alice", &st, NULL), CU_OK);
    assert_int_equal(pthread_create(&t, NULL, suspend_main, &d), 0);
    usleep(300 * 1000);
    assert_int_equal(d.done, 0); /* waits for the holder */
    st.totp_last_step = 77;
    assert_int_equal(store_staff_put(fx->s, &st, 0, NULL), CU_OK);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(d.rc, CU_OK);
    /* the suspension was written after, on the committed row */
    assert_int_equal(store_staff_get(fx->s, "alice", &st, NULL), CU_OK);
    assert_int_equal(st.suspended, 1);
    assert_int_equal(st.totp_last_step, 77);
    assert_int_equal(store_staff_lock(fx->s, "nobody", &st, NULL), CU_ERR_NOT_FOUND);
    store_staff_release(&st);
    store_free(d.s);
}

static void test_meta(void **state)
{
    struct fx *fx = *state;
    char *v = NULL, *err = NULL;

    assert_int_equal(store_meta_get(fx->s, "import_run", &v, &err), CU_ERR_NOT_FOUND);
    assert_null(v);
    assert_non_null(strstr(err, "import_run"));
    free(err);
    assert_int_equal(store_meta_set(fx->s, "import_run", "1", NULL), CU_OK);
    assert_int_equal(store_meta_set(fx->s, "other", "x", NULL), CU_OK);
    assert_int_equal(store_meta_set(fx->s, "import_run", "2", NULL), CU_OK);
    assert_int_equal(store_meta_get(fx->s, "import_run", &v, NULL), CU_OK);
    assert_string_equal(v, "2");
    free(v);
    assert_int_equal(store_meta_get(fx->s, "other", &v, NULL), CU_OK);
    assert_string_equal(v, "x");
    free(v);
}

static void test_count(void **state)
{
    struct fx *fx = *state;
    int64_t n = -1;

    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    insert_n(fx->s, 0, 17);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 17);
}

static void test_blind_encoding(void **state)
{
    static const unsigned char want[18] = {3, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                           1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    struct store_customer c, d;
    struct buf b = BUF_INIT;

    (void)state;
    store_customer_init(&c);
    store_customer_init(&d);
    store_customer_add_blind(&c, 3, 0x0102030405060708ull);
    store_customer_add_blind(&c, 1, 0xfffffffffffffffeull);
    buf_addstr(&b, "old content is replaced");
    store_blind_encode(&c, &b);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    store_customer_add_blind(&d, 9, 9); /* replaced, not appended to */
    assert_int_equal(store_blind_decode(&d, b.data, b.len), CU_OK);
    assert_int_equal(d.nblind, 2);
    assert_int_equal(d.blind[0].kind, 3);
    assert_true(d.blind[0].hash == 0x0102030405060708ull);
    assert_true(d.blind[1].hash == 0xfffffffffffffffeull);
    assert_int_equal(store_blind_decode(&d, b.data, b.len - 1), CU_ERR_INVALID);
    assert_int_equal(store_blind_decode(&d, NULL, 0), CU_OK);
    assert_int_equal(d.nblind, 0);
    store_customer_reset(&c);
    store_blind_encode(&c, &b);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    store_customer_release(&c);
    store_customer_release(&d);
}

static void test_customer_struct_reuse(void **state)
{
    struct store_customer c;
    int i;

    (void)state;
    store_customer_init(&c);
    for (i = 0; i < 20; i++)
        store_customer_add_blind(&c, 1, (uint64_t)i);
    assert_int_equal(c.nblind, 20);
    assert_int_equal(c.blind[19].hash, 19);
    buf_addstr(&c.sealed[MODEL_F_NAME], "x");
    c.customer_id = strdup("C1");
    store_customer_reset(&c);
    assert_int_equal(c.nblind, 0);
    assert_true(c.blind_cap >= 20); /* storage kept for the next record */
    assert_null(c.customer_id);
    assert_int_equal(c.sealed[MODEL_F_NAME].len, 0);
    store_customer_release(&c);
    assert_null(c.blind);
    assert_int_equal(c.blind_cap, 0);
}

/* A second handle on the same file sees committed data only (WAL). */
static void test_two_handles(void **state)
{
    struct fx *fx = *state;
    struct store *s2;
    int64_t n;

    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    insert_n(fx->s, 0, 2);
    assert_int_equal(store_customer_count(s2, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(store_customer_count(s2, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    insert_n(s2, 2, 3);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 3);
    store_free(s2);
}

/*
 * Grouped reads (store_reads_begin): on SQLite one read transaction and so
 * one snapshot.  The attack: another handle commits after the snapshot,
 * then this one writes.  A write inside the snapshot could not take the
 * write lock (SQLITE_BUSY_SNAPSHOT, at once, whatever the busy handler);
 * the write must end the grouping and succeed, as must a transaction.
 */
static void test_grouped_reads(void **state)
{
    struct fx *fx = *state;
    struct store *s2;
    int64_t n;
    char *err = NULL, *value = NULL;

    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    store_reads_end(fx->s); /* none open: harmless */
    insert_n(fx->s, 0, 1);

    store_reads_begin(fx->s);
    store_reads_begin(fx->s); /* already grouped: nothing more */
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    insert_n(s2, 1, 2);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, fx->pg ? 2 : 1); /* SQLite: the group's snapshot */
    /* a grouping is not a transaction */
    assert_int_equal(store_commit(fx->s, &err), CU_ERR_INTERNAL);
    free(err);
    err = NULL;
    insert_n(fx->s, 2, 3); /* a write ends the grouping */
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 3);
    assert_int_equal(store_customer_count(s2, &n, NULL), CU_OK);
    assert_int_equal(n, 3); /* committed, not held in the grouping */

    /* a single-statement write (no transaction of its own) likewise */
    store_reads_begin(fx->s);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(store_meta_set(s2, "k", "from s2", NULL), CU_OK);
    assert_int_equal(store_meta_set(fx->s, "k", "from s1", &err), CU_OK);
    assert_int_equal(store_meta_get(s2, "k", &value, NULL), CU_OK);
    assert_string_equal(value, "from s1");
    free(value);

    /* store_begin inside a grouping, after another handle's commit */
    store_reads_begin(fx->s);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    insert_n(s2, 3, 4);
    assert_int_equal(store_begin(fx->s, &err), CU_OK);
    insert_n(fx->s, 4, 5);
    assert_int_equal(store_commit(fx->s, &err), CU_OK);
    assert_int_equal(store_customer_count(s2, &n, NULL), CU_OK);
    assert_int_equal(n, 5);

    /* a rollback ends a grouping too; the reads after it see the latest */
    store_reads_begin(fx->s);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    insert_n(s2, 5, 6);
    store_rollback(fx->s);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 6);
    store_reads_end(fx->s);
    store_free(s2);
}

/* store_commits_relaxed: later commits still commit, and are seen by
 * another handle and after a reopen.  (What it relaxes, the wait for the
 * disk, shows only in a crash of the machine.) */
static void test_commits_relaxed(void **state)
{
    struct fx *fx = *state;
    struct store *s2;
    int64_t n;

    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    assert_int_equal(store_commits_relaxed(fx->s, NULL), CU_OK);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    insert_n(fx->s, 0, 2);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    insert_n(fx->s, 2, 3);
    assert_int_equal(store_customer_count(s2, &n, NULL), CU_OK);
    assert_int_equal(n, 3);
    store_free(s2);
    reopen(fx);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 3);
}

/* store_checkpoint copies the write-ahead log back into the database file
 * (on SQLite: the file grows by the new pages; commits alone left them in
 * the WAL, below the 8,192 pages at which a commit would checkpoint). */
static void test_checkpoint(void **state)
{
    struct fx *fx = *state;
    struct stat before, after;
    int64_t n;

    insert_n(fx->s, 0, 200);
    assert_int_equal(store_checkpoint(fx->s, NULL), CU_OK);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 200);
    if (fx->pg)
        return;
    insert_n(fx->s, 200, 400);
    assert_int_equal(stat(fx->path, &before), 0);
    assert_int_equal(store_checkpoint(fx->s, NULL), CU_OK);
    assert_int_equal(stat(fx->path, &after), 0);
    assert_true(after.st_size > before.st_size);
}

/* ---- audit log storage ---- */

/* Test rows: actor "clerk<i % 3>" (none for every 7th), subject the 16-byte
 * pseudonym of customer i % 4 (none when i % 4 == 3), a leaf of 100 + i % 60
 * bytes that holds NUL bytes and starts with the index. */
#define NACTORS 3
static const char *const actors[NACTORS] = {"clerk0", "clerk1", "operator:admin"};

struct rowbuf {
    struct store_audit_row rows[256];
    unsigned char subjects[256][16];
    unsigned char leaves[256][160];
};

static const char *row_actor(uint64_t i)
{
    return i % 7 == 6 ? NULL : actors[i % NACTORS];
}

static void make_subject(unsigned char *out, uint64_t i)
{
    memset(out, 0, 16);
    out[0] = 0xa5;
    out[15] = (unsigned char)(i % 4);
}

static void make_leaf(unsigned char *out, size_t *len, uint64_t i)
{
    size_t k;

    *len = 100 + (size_t)(i % 60);
    for (k = 0; k < *len; k++)
        out[k] = (unsigned char)(k % 5 == 0 ? 0 : (i * 31 + k) & 0xff);
    memcpy(out, &i, sizeof(i));
}

/* Fills rb->rows[0..n) for indexes first, first + 1, ... */
static void make_rows(struct rowbuf *rb, uint64_t first, size_t n)
{
    size_t i;

    assert_true(n <= 256);
    for (i = 0; i < n; i++) {
        struct store_audit_row *r = &rb->rows[i];
        uint64_t idx = first + i;

        r->index = idx;
        r->time_ms = 1700000000000 + (int64_t)idx * 10;
        r->actor = row_actor(idx);
        if (idx % 4 == 3) {
            r->subject = NULL;
            r->subject_len = 0;
        } else {
            make_subject(rb->subjects[i], idx);
            r->subject = rb->subjects[i];
            r->subject_len = 16;
        }
        make_leaf(rb->leaves[i], &r->len, idx);
        r->leaf = rb->leaves[i];
    }
}

/* Appends rows [first, first + n) in batches of `batch`. */
static void append_n(struct store *s, uint64_t first, size_t n, size_t batch)
{
    static struct rowbuf rb;
    size_t done, k;

    for (done = 0; done < n; done += k) {
        k = n - done < batch ? n - done : batch;
        make_rows(&rb, first + done, k);
        assert_int_equal(store_audit_append(s, rb.rows, k, NULL), CU_OK);
    }
}

static uint64_t audit_size(struct store *s)
{
    uint64_t n = 12345;

    assert_int_equal(store_audit_size(s, &n, NULL), CU_OK);
    return n;
}

/* Checks every field of a row read back against make_rows(). */
static void check_row(const struct store_audit_row *r)
{
    unsigned char want[160], subject[16];
    size_t len;

    assert_int_equal(r->time_ms, 1700000000000 + (int64_t)r->index * 10);
    if (row_actor(r->index) == NULL)
        assert_null(r->actor);
    else
        assert_string_equal(r->actor, row_actor(r->index));
    if (r->index % 4 == 3) {
        assert_null(r->subject);
        assert_int_equal(r->subject_len, 0);
    } else {
        make_subject(subject, r->index);
        assert_int_equal(r->subject_len, 16);
        assert_memory_equal(r->subject, subject, 16);
    }
    make_leaf(want, &len, r->index);
    assert_int_equal(r->len, len);
    assert_memory_equal(r->leaf, want, len);
}

struct collect {
    uint64_t idx[512];
    size_t n;
    size_t stop_at;       /* return 7 on this call (1-based), 0: never */
    struct store *nested; /* if set, scan [0, 3) of it from each call */
};

static int collect_cb(void *ctx, const struct store_audit_row *r)
{
    struct collect *c = ctx;
    struct collect inner;

    check_row(r);
    assert_true(c->n < CU_ARRAY_LEN(c->idx));
    c->idx[c->n++] = r->index;
    if (c->nested != NULL) {
        memset(&inner, 0, sizeof(inner));
        assert_int_equal(store_audit_scan(c->nested, 0, 3, collect_cb, &inner, NULL), CU_OK);
        assert_int_equal(inner.n, 3);
    }
    return c->stop_at != 0 && c->n == c->stop_at ? 7 : 0;
}

static size_t scan_all(struct store *s, uint64_t start, uint64_t end, struct collect *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(store_audit_scan(s, start, end, collect_cb, c, NULL), CU_OK);
    return c->n;
}

/* A version-1 store (as the previous release left it) is migrated to
 * the current version in place, its customers and settings kept. */
/* Drops every table that migration 1 did not create. */
static void drop_tables_after_v1(const char *path)
{
    struct buf sql = BUF_INIT;
    sqlite3_stmt *st;
    sqlite3 *db;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'table' AND"
                                        " name NOT IN ('meta', 'keks', 'customers', 'blind')"
                                        " AND name NOT LIKE 'sqlite_%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        buf_addf(&sql, "DROP TABLE \"%s\";", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    raw_exec(path, sql.data);
    buf_release(&sql);
}

#ifdef CU_STORE_PG
/* The same on PostgreSQL: every table but migration 1's goes. */
static void pg_back_to_v1(const char *url)
{
    raw_exec(url, "DO $$DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables"
                  " WHERE schemaname = current_schema() AND tablename NOT IN ('meta', 'keks',"
                  " 'customers', 'blind', 'custodian_store') LOOP EXECUTE format('DROP TABLE %I',"
                  " t); END LOOP; END$$;"
                  " DELETE FROM meta WHERE key = 'audit_log_id';"
                  " UPDATE custodian_store SET version = 1");
}
#endif

static void test_migrate_v1_to_now(void **state)
{
    struct fx *fx = *state;
    struct store_customer c;
    struct collect col;
    char *v = NULL;
    int64_t n;

    insert_n(fx->s, 0, 10);
    assert_int_equal(store_meta_set(fx->s, "import_run", "4", NULL), CU_OK);
    store_free(fx->s);
    fx->s = NULL;
    /* take it back to what migration 1 alone creates: every later table
     * goes (whatever later migrations add) */
#ifdef CU_STORE_PG
    if (fx->pg)
        pg_back_to_v1(fx->path);
#endif
    if (!fx->pg) {
        drop_tables_after_v1(fx->path);
        raw_exec(fx->path, "DELETE FROM meta WHERE key = 'audit_log_id'; PRAGMA user_version = 1");
    }
    assert_int_equal(raw_tables(fx, "'audit_entries', 'audit_index', 'audit_tiles',"
                                    " 'audit_checkpoints', 'staff', 'erasure_requests'"),
                     0);
    assert_int_equal(raw_version(fx), 1);

    assert_int_equal(store_open(&fx->s, fx->path, NULL), CU_OK);
    assert_int_equal(store_schema_version(fx->s), SCHEMA_NOW);
    assert_int_equal(raw_version(fx), SCHEMA_NOW);
    /* SQLite: the index has a file of its own since migration 7;
     * PostgreSQL keeps it in a table */
    assert_int_equal(raw_tables(fx, "'audit_entries', 'audit_index', 'audit_tiles',"
                                    " 'audit_checkpoints'"),
                     fx->pg ? 4 : 3);
    assert_int_equal(raw_tables(fx, "'staff', 'erasure_requests'"), 2);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 10);
    store_customer_init(&c);
    assert_int_equal(store_customer_get(fx->s, "C00000007", &c, NULL), CU_OK);
    assert_int_equal(c.nblind, 3);
    assert_int_equal(find_n(fx->s, c.blind[1].kind, c.blind[1].hash), 1);
    assert_int_equal(c.sealed[MODEL_F_PHONE].len, strlen("sealed-7-2") + 2);
    store_customer_release(&c);
    assert_int_equal(store_meta_get(fx->s, "import_run", &v, NULL), CU_OK);
    assert_string_equal(v, "4");
    free(v);
    /* the new tables work, and the next open does not migrate again */
    assert_int_equal(audit_size(fx->s), 0);
    append_n(fx->s, 0, 5, 5);
    reopen(fx);
    assert_int_equal(store_schema_version(fx->s), SCHEMA_NOW);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 5);
}

static void test_audit_append_scan(void **state)
{
    struct fx *fx = *state;
    struct collect col;
    size_t i;

    assert_int_equal(audit_size(fx->s), 0);
    assert_int_equal(scan_all(fx->s, 0, UINT64_MAX, &col), 0);
    append_n(fx->s, 0, 1, 1);
    assert_int_equal(audit_size(fx->s), 1);
    append_n(fx->s, 1, 10, 10);
    assert_int_equal(audit_size(fx->s), 11);
    append_n(fx->s, 11, 289, 100); /* batches of 100, 100, 89 */
    assert_int_equal(audit_size(fx->s), 300);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_entries"), 300);

    /* everything, in index order, every field intact (check_row) */
    assert_int_equal(scan_all(fx->s, 0, UINT64_MAX, &col), 300);
    for (i = 0; i < 300; i++)
        assert_int_equal(col.idx[i], i);
    /* a range: start included, end excluded */
    assert_int_equal(scan_all(fx->s, 17, 42, &col), 25);
    assert_int_equal(col.idx[0], 17);
    assert_int_equal(col.idx[24], 41);
    assert_int_equal(scan_all(fx->s, 299, 1000, &col), 1);
    assert_int_equal(scan_all(fx->s, 300, 1000, &col), 0);
    assert_int_equal(scan_all(fx->s, 42, 42, &col), 0);
    assert_int_equal(scan_all(fx->s, 50, 10, &col), 0);
    assert_int_equal(scan_all(fx->s, UINT64_MAX - 1, UINT64_MAX, &col), 0);

    /* durable: another handle and a reopen see the same log */
    reopen(fx);
    assert_int_equal(audit_size(fx->s), 300);
    assert_int_equal(scan_all(fx->s, 0, 300, &col), 300);
    append_n(fx->s, 300, 3, 3);
    assert_int_equal(audit_size(fx->s), 303);
}

/* Gaps and overlaps are refused with nothing written, in and out of a
 * caller's transaction. */
static void test_audit_append_conflict(void **state)
{
    struct fx *fx = *state;
    static struct rowbuf rb;
    struct collect col;
    char *err = NULL;

    append_n(fx->s, 0, 10, 10);
    /* a gap */
    make_rows(&rb, 11, 3);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 3, &err), CU_ERR_CONFLICT);
    assert_non_null(err);
    assert_non_null(strstr(err, "append audit entries"));
    free(err);
    err = NULL;
    /* an overlap */
    make_rows(&rb, 9, 3);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 3, NULL), CU_ERR_CONFLICT);
    make_rows(&rb, 0, 1);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 1, NULL), CU_ERR_CONFLICT);
    /* right start, but a hole, a repeat or a step back inside the batch */
    make_rows(&rb, 10, 4);
    rb.rows[2].index = 13;
    assert_int_equal(store_audit_append(fx->s, rb.rows, 4, NULL), CU_ERR_CONFLICT);
    rb.rows[2].index = 11;
    assert_int_equal(store_audit_append(fx->s, rb.rows, 4, NULL), CU_ERR_CONFLICT);
    make_rows(&rb, 10, 4);
    rb.rows[3].index = 12;
    assert_int_equal(store_audit_append(fx->s, rb.rows, 4, NULL), CU_ERR_CONFLICT);
    assert_int_equal(audit_size(fx->s), 10);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_entries"), 10);
    /* nothing at all is fine */
    assert_int_equal(store_audit_append(fx->s, rb.rows, 0, NULL), CU_OK);

    /* inside a transaction: the refused batch leaves the earlier ones */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    append_n(fx->s, 10, 5, 5);
    make_rows(&rb, 16, 2);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 2, NULL), CU_ERR_CONFLICT);
    make_rows(&rb, 14, 2);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 2, NULL), CU_ERR_CONFLICT);
    assert_int_equal(audit_size(fx->s), 15);
    append_n(fx->s, 15, 2, 2);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(audit_size(fx->s), 17);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 17);
    assert_int_equal(col.idx[16], 16);
}

static void test_audit_append_rollback(void **state)
{
    struct fx *fx = *state;
    struct collect col;

    append_n(fx->s, 0, 3, 3);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    append_n(fx->s, 3, 50, 7);
    append_n(fx->s, 53, 1, 1);
    assert_int_equal(audit_size(fx->s), 54);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 54); /* its own writes */
    store_rollback(fx->s);
    assert_int_equal(audit_size(fx->s), 3);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_entries"), 3);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 3);
    /* the size is not remembered from the rolled-back transaction */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    append_n(fx->s, 3, 2, 2);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(audit_size(fx->s), 5);
}

/* Another process appends between our transactions: each write transaction
 * reads the size afresh. */
static void test_audit_two_writers(void **state)
{
    struct fx *fx = *state;
    static struct rowbuf rb;
    struct store *s2;
    struct collect col;

    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    append_n(fx->s, 0, 5, 5);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(audit_size(s2), 5);
    append_n(s2, 5, 5, 5);
    assert_int_equal(store_begin(s2, NULL), CU_OK);
    append_n(s2, 10, 2, 2);
    assert_int_equal(store_commit(s2, NULL), CU_OK);

    assert_int_equal(audit_size(fx->s), 12);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    make_rows(&rb, 5, 1);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 1, NULL), CU_ERR_CONFLICT);
    append_n(fx->s, 12, 3, 3);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    /* and outside a transaction */
    append_n(s2, 15, 1, 1);
    make_rows(&rb, 15, 1);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 1, NULL), CU_ERR_CONFLICT);
    append_n(fx->s, 16, 1, 1);
    assert_int_equal(scan_all(s2, 0, 100, &col), 17);
    store_free(s2);
}

/* A row that the database refuses half-way through a batch: the batch
 * leaves nothing, in or out of a caller's transaction. */
static void test_audit_append_fails_midway(void **state)
{
    struct fx *fx = *state;
    static struct rowbuf rb;
    struct collect col;
    char *err = NULL;

    append_n(fx->s, 0, 5, 5);
    if (fx->pg)
        raw_exec(fx->path, "CREATE FUNCTION fail_8() RETURNS trigger LANGUAGE plpgsql AS"
                           " $$BEGIN IF NEW.idx = 8 THEN RAISE EXCEPTION 'refused'; END IF;"
                           " RETURN NEW; END$$; CREATE TRIGGER fail_8 BEFORE INSERT ON"
                           " audit_entries FOR EACH ROW EXECUTE FUNCTION fail_8()");
    else
        raw_exec(fx->path, "CREATE TRIGGER fail_8 BEFORE INSERT ON audit_entries WHEN new.idx = 8"
                           " BEGIN SELECT RAISE(ABORT, 'refused'); END");
    make_rows(&rb, 5, 6);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 6, &err), CU_ERR_STORE);
    assert_non_null(strstr(err, "append audit entries"));
    free(err);
    err = NULL;
    assert_int_equal(audit_size(fx->s), 5);

    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    append_n(fx->s, 5, 2, 2);
    assert_int_equal(store_meta_set(fx->s, "k", "v", NULL), CU_OK);
    make_rows(&rb, 7, 4);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 4, NULL), CU_ERR_STORE);
    assert_int_equal(audit_size(fx->s), 7);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 7);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_entries"), 7);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM meta WHERE key = 'k'"), 1);

    if (fx->pg) {
        /* PostgreSQL undoes a refused batch with its savepoint, which
         * cannot fail as SQLite's DELETE can (below): the caller's
         * transaction goes on, and commits */
        assert_int_equal(store_begin(fx->s, NULL), CU_OK);
        assert_int_equal(store_meta_set(fx->s, "k2", "v", NULL), CU_OK);
        make_rows(&rb, 7, 1);
        assert_int_equal(store_audit_append(fx->s, rb.rows, 1, NULL), CU_OK);
        make_rows(&rb, 8, 2);
        assert_int_equal(store_audit_append(fx->s, rb.rows, 2, NULL), CU_ERR_STORE);
        assert_int_equal(audit_size(fx->s), 8);
        assert_int_equal(store_commit(fx->s, NULL), CU_OK);
        assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_entries"), 8);
        assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM meta WHERE key = 'k2'"), 1);
        raw_exec(fx->path, "DROP TRIGGER fail_8 ON audit_entries");
        append_n(fx->s, 8, 3, 3);
        assert_int_equal(audit_size(fx->s), 11);
        return;
    }
    /* when not even the undo works (deletes forbidden), the whole
     * transaction goes rather than part of the batch */
    raw_exec(fx->path, "CREATE TRIGGER no_delete BEFORE DELETE ON audit_entries"
                       " BEGIN SELECT RAISE(ABORT, 'append only'); END");
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_meta_set(fx->s, "k2", "v", NULL), CU_OK);
    make_rows(&rb, 7, 2);
    assert_int_equal(store_audit_append(fx->s, rb.rows, 2, NULL), CU_ERR_STORE);
    assert_int_equal(store_commit(fx->s, &err), CU_ERR_INTERNAL);
    free(err);
    store_rollback(fx->s);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_entries"), 7);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM meta WHERE key = 'k'"), 1);
    raw_exec(fx->path, "DROP TRIGGER fail_8; DROP TRIGGER no_delete");
    append_n(fx->s, 7, 4, 4);
    assert_int_equal(audit_size(fx->s), 11);
}

struct found {
    uint64_t idx[64];
    size_t n;
};

static int found_cb(void *ctx, const struct store_audit_row *r)
{
    struct found *f = ctx;

    check_row(r);
    assert_true(f->n < CU_ARRAY_LEN(f->idx));
    f->idx[f->n++] = r->index;
    return 0;
}

/* The indexes in [0, size) that match, newest first, at most limit. */
static size_t expect_find(uint64_t size, const char *actor, int subject, size_t limit,
                          uint64_t *want)
{
    size_t n = 0;
    uint64_t i;

    for (i = size; i-- > 0 && n < limit;) {
        const char *a = row_actor(i);

        if (actor != NULL && (a == NULL || strcmp(a, actor) != 0))
            continue;
        if (subject >= 0 && (i % 4 == 3 || (int)(i % 4) != subject))
            continue;
        want[n++] = i;
    }
    return n;
}

static void check_find(struct store *s, uint64_t size, const char *actor, int subject, size_t limit)
{
    unsigned char sub[16];
    uint64_t want[64];
    struct found f;
    size_t nwant, i;

    memset(&f, 0, sizeof(f));
    if (subject >= 0)
        make_subject(sub, (uint64_t)subject);
    assert_int_equal(
        store_audit_find(s, actor, subject >= 0 ? sub : NULL, 16, limit, found_cb, &f, NULL),
        CU_OK);
    nwant = expect_find(size, actor, subject, limit, want);
    assert_int_equal(f.n, nwant);
    for (i = 0; i < nwant; i++)
        assert_int_equal(f.idx[i], want[i]);
}

/* The audit index's own file, beside the store. */
static const char *ix_file(struct fx *fx)
{
    static char path[sizeof(fx->path) + 16];

    if (fx->pg)
        return fx->path; /* a table of the store's database */
    snprintf(path, sizeof(path), "%.*s-index.db", (int)(strlen(fx->path) - 3), fx->path);
    return path;
}

/*
 * Indexing never takes the log's write lock: with another connection in
 * the middle of a write transaction on the store, a chunk is indexed at
 * once (it would wait out the busy timeout and fail otherwise).  And an
 * index file that belongs to another log is emptied and rebuilt, not
 * believed.
 */
static void test_audit_index_apart(void **state)
{
    struct fx *fx = *state;
    struct store *s2 = NULL;
    uint64_t w = 0;
    double t0;
    char *cmd;

    append_n(fx->s, 0, 100, 50);
    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    assert_int_equal(store_begin(s2, NULL), CU_OK);
    /* PostgreSQL: the log's writer lock is taken by the size read */
    assert_int_equal(audit_size(s2), 100);
    t0 = cu_monotonic();
    assert_int_equal(store_audit_index(fx->s, 1000, &w, NULL), CU_OK);
    assert_true(cu_monotonic() - t0 < 2.0);
    assert_int_equal(w, 100);
    assert_int_equal(store_commit(s2, NULL), CU_OK);
    store_free(s2);
    if (!fx->pg) {
        struct stat st;

        assert_int_equal(stat(ix_file(fx), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600); /* private, like the store */
    }
    check_find(fx->s, 100, "clerk0", -1, 64);

    /* a foreign index: says everything of another log is indexed */
    store_free(fx->s);
    fx->s = NULL;
    if (fx->pg) {
        /* PostgreSQL: a watermark past the log's end (a log restored
         * without its index) */
        raw_exec(fx->path, "UPDATE audit_index_state SET indexed = 1000; DELETE FROM audit_index");
    } else {
        cmd = xasprintf("sqlite3 '%s' \"UPDATE meta SET value = 'another' WHERE key ="
                        " 'audit_log_id'; DELETE FROM audit_index\"",
                        ix_file(fx));
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    assert_int_equal(store_open(&fx->s, fx->path, NULL), CU_OK);
    assert_int_equal(store_audit_index(fx->s, 0, &w, NULL), CU_OK);
    assert_int_equal(w, 0); /* reset: rebuilt from the entries */
    check_find(fx->s, 100, "clerk0", -1, 64);
    check_find(fx->s, 100, NULL, 1, 64);
    assert_int_equal(store_audit_index(fx->s, 1000, &w, NULL), CU_OK);
    assert_int_equal(w, 100);
    check_find(fx->s, 100, NULL, 1, 64);
}

static void test_audit_find(void **state)
{
    struct fx *fx = *state;
    unsigned char other[16];
    struct found f;

    append_n(fx->s, 0, 120, 50);
    /* Part indexed, part tail: find joins both, newest first. */
    {
        uint64_t w = 99;

        assert_int_equal(store_audit_index(fx->s, 0, &w, NULL), CU_OK);
        assert_int_equal(w, 0);
        assert_int_equal(store_audit_index(fx->s, 50, &w, NULL), CU_OK);
        assert_int_equal(w, 50);
        assert_int_equal(raw_int(ix_file(fx), "SELECT count(*) FROM audit_index WHERE idx >= 50"),
                         0);
        assert_int_equal(raw_int(ix_file(fx), "SELECT count(*) FROM audit_index"), 81);
        check_find(fx->s, 120, "clerk0", -1, 64);
        check_find(fx->s, 120, NULL, 2, 64);
        check_find(fx->s, 120, "clerk1", 1, 64);
        assert_int_equal(store_audit_index(fx->s, 1000, &w, NULL), CU_OK);
        assert_int_equal(w, 120);
        assert_int_equal(store_audit_index(fx->s, 1000, &w, NULL), CU_OK);
        assert_int_equal(w, 120);
    }
    check_find(fx->s, 120, "clerk0", -1, 64);
    check_find(fx->s, 120, "clerk1", -1, 5);
    check_find(fx->s, 120, "operator:admin", -1, 1);
    check_find(fx->s, 120, NULL, 2, 64);
    check_find(fx->s, 120, NULL, 0, 3);
    check_find(fx->s, 120, "clerk1", 1, 64);
    check_find(fx->s, 120, "clerk0", 2, 4);
    check_find(fx->s, 120, NULL, -1, 10); /* no filter: the newest entries */
    /* a few by hand, against a wrong expect_find() */
    memset(&f, 0, sizeof(f));
    assert_int_equal(store_audit_find(fx->s, "clerk0", NULL, 0, 3, found_cb, &f, NULL), CU_OK);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.idx[0], 117);
    assert_int_equal(f.idx[1], 114);
    assert_int_equal(f.idx[2], 108); /* 111 % 7 == 6: no actor */
    /* nothing matches */
    check_find(fx->s, 120, "clerk9", -1, 64);
    memset(other, 0x5a, sizeof(other));
    memset(&f, 0, sizeof(f));
    assert_int_equal(store_audit_find(fx->s, NULL, other, 16, 10, found_cb, &f, NULL), CU_OK);
    assert_int_equal(f.n, 0);
    /* a prefix of a subject is another subject */
    make_subject(other, 1);
    assert_int_equal(store_audit_find(fx->s, NULL, other, 15, 10, found_cb, &f, NULL), CU_OK);
    assert_int_equal(f.n, 0);
    assert_int_equal(store_audit_find(fx->s, "clerk0", NULL, 0, 0, found_cb, &f, NULL), CU_OK);
    assert_int_equal(f.n, 0);
}

static int stop_find_cb(void *ctx, const struct store_audit_row *r)
{
    size_t *calls = ctx;

    (void)r;
    return ++*calls == 2 ? -3 : 0;
}

struct cp_seen {
    uint64_t size[8];
    char note[8][32];
    size_t n;
    size_t stop_at;
};

static int cp_cb(void *ctx, uint64_t size, const char *note)
{
    struct cp_seen *c = ctx;

    assert_true(c->n < 8);
    c->size[c->n] = size;
    snprintf(c->note[c->n], sizeof(c->note[0]), "%s", note);
    c->n++;
    return c->stop_at != 0 && c->n == c->stop_at ? 9 : 0;
}

/* A non-zero callback result stops every kind of scan and is returned;
 * a callback may scan the same store again. */
static void test_audit_scan_stop(void **state)
{
    struct fx *fx = *state;
    struct cp_seen cp;
    struct collect col;
    size_t calls = 0;

    append_n(fx->s, 0, 20, 20);
    memset(&col, 0, sizeof(col));
    col.stop_at = 3;
    assert_int_equal(store_audit_scan(fx->s, 4, 20, collect_cb, &col, NULL), 7);
    assert_int_equal(col.n, 3);
    assert_int_equal(col.idx[2], 6);
    /* the statement was left reusable */
    assert_int_equal(scan_all(fx->s, 0, 20, &col), 20);
    assert_int_equal(store_audit_find(fx->s, "clerk0", NULL, 0, 10, stop_find_cb, &calls, NULL),
                     -3);
    assert_int_equal(calls, 2);
    calls = 0;
    assert_int_equal(store_audit_find(fx->s, "clerk0", NULL, 0, 10, stop_find_cb, &calls, NULL),
                     -3);

    /* nested: a scan from inside a scan of the same store */
    memset(&col, 0, sizeof(col));
    col.nested = fx->s;
    assert_int_equal(store_audit_scan(fx->s, 10, 15, collect_cb, &col, NULL), CU_OK);
    assert_int_equal(col.n, 5);

    assert_int_equal(store_checkpoint_put(fx->s, 5, "five", NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 10, "ten", NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 20, "twenty", NULL), CU_OK);
    memset(&cp, 0, sizeof(cp));
    cp.stop_at = 2;
    assert_int_equal(store_checkpoint_scan(fx->s, cp_cb, &cp, NULL), 9);
    assert_int_equal(cp.n, 2);
    memset(&cp, 0, sizeof(cp));
    assert_int_equal(store_checkpoint_scan(fx->s, cp_cb, &cp, NULL), CU_OK);
    assert_int_equal(cp.n, 3);
}

static void test_tiles(void **state)
{
    struct fx *fx = *state;
    unsigned char h[256 * 32];
    struct buf out = BUF_INIT;
    char *err = NULL;
    size_t i;

    for (i = 0; i < sizeof(h); i++)
        h[i] = (unsigned char)(i * 7 + i / 256);
    assert_int_equal(store_tile_put(fx->s, 0, 0, h, 32, NULL), CU_OK);
    assert_int_equal(store_tile_put(fx->s, 1, 0, h + 64, 32, NULL), CU_OK);
    assert_int_equal(store_tile_put(fx->s, 0, 1, h + 128, 96, NULL), CU_OK);
    assert_int_equal(store_tile_put(fx->s, 2, (uint64_t)1 << 40, h, sizeof(h), NULL), CU_OK);

    buf_addstr(&out, "old content is replaced");
    assert_int_equal(store_tile_get(fx->s, 0, 0, &out, NULL), CU_OK);
    assert_int_equal(out.len, 32);
    assert_memory_equal(out.data, h, 32);
    assert_int_equal(store_tile_get(fx->s, 1, 0, &out, NULL), CU_OK);
    assert_int_equal(out.len, 32);
    assert_memory_equal(out.data, h + 64, 32);
    assert_int_equal(store_tile_get(fx->s, 0, 1, &out, NULL), CU_OK);
    assert_int_equal(out.len, 96);
    assert_memory_equal(out.data, h + 128, 96);
    assert_int_equal(store_tile_get(fx->s, 2, (uint64_t)1 << 40, &out, NULL), CU_OK);
    assert_int_equal(out.len, sizeof(h));
    assert_memory_equal(out.data, h, sizeof(h));

    /* a partial tile grows */
    assert_int_equal(store_tile_put(fx->s, 0, 0, h, 64, NULL), CU_OK);
    assert_int_equal(store_tile_get(fx->s, 0, 0, &out, NULL), CU_OK);
    assert_int_equal(out.len, 64);
    assert_memory_equal(out.data, h, 64);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_tiles"), 4);

    /* absent: not found, and out left empty */
    assert_int_equal(store_tile_get(fx->s, 0, 2, &out, &err), CU_ERR_NOT_FOUND);
    assert_non_null(err);
    free(err);
    assert_int_equal(out.len, 0);
    assert_int_equal(store_tile_get(fx->s, 3, 0, &out, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_tile_get(fx->s, 0, UINT64_MAX, &out, NULL), CU_ERR_NOT_FOUND);

    /* in a rolled-back transaction: gone */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_tile_put(fx->s, 0, 9, h, 32, NULL), CU_OK);
    assert_int_equal(store_tile_get(fx->s, 0, 9, &out, NULL), CU_OK);
    store_rollback(fx->s);
    assert_int_equal(store_tile_get(fx->s, 0, 9, &out, NULL), CU_ERR_NOT_FOUND);
    buf_release(&out);
}

static void test_checkpoints(void **state)
{
    struct fx *fx = *state;
    struct cp_seen cp;
    uint64_t size = 99;
    char *note = NULL, *err = NULL;

    assert_int_equal(store_checkpoint_latest(fx->s, &size, &note, &err), CU_ERR_NOT_FOUND);
    assert_null(note);
    assert_int_equal(size, 0);
    assert_non_null(err);
    free(err);
    err = NULL;
    memset(&cp, 0, sizeof(cp));
    assert_int_equal(store_checkpoint_scan(fx->s, cp_cb, &cp, NULL), CU_OK);
    assert_int_equal(cp.n, 0);

    assert_int_equal(store_checkpoint_put(fx->s, 10, "note ten\n", NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 3, "note three\n", NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 25, "note 25\n", NULL), CU_OK);
    /* the same note again is fine; another one is a conflict */
    assert_int_equal(store_checkpoint_put(fx->s, 10, "note ten\n", NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 10, "note ten\nforged", &err), CU_ERR_CONFLICT);
    assert_non_null(strstr(err, "size 10"));
    free(err);
    assert_int_equal(store_checkpoint_put(fx->s, 10, "note te", NULL), CU_ERR_CONFLICT);
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM audit_checkpoints"), 3);

    assert_int_equal(store_checkpoint_latest(fx->s, &size, &note, NULL), CU_OK);
    assert_int_equal(size, 25);
    assert_string_equal(note, "note 25\n");
    free(note);

    memset(&cp, 0, sizeof(cp));
    assert_int_equal(store_checkpoint_scan(fx->s, cp_cb, &cp, NULL), CU_OK);
    assert_int_equal(cp.n, 3);
    assert_int_equal(cp.size[0], 3);
    assert_string_equal(cp.note[0], "note three\n");
    assert_int_equal(cp.size[1], 10);
    assert_string_equal(cp.note[1], "note ten\n");
    assert_int_equal(cp.size[2], 25);

    /* in a transaction: a conflict leaves the transaction usable */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 30, "note 30\n", NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 3, "other", NULL), CU_ERR_CONFLICT);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(store_checkpoint_latest(fx->s, &size, &note, NULL), CU_OK);
    assert_int_equal(size, 30);
    free(note);
    /* a rolled-back one leaves nothing */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_checkpoint_put(fx->s, 40, "note 40\n", NULL), CU_OK);
    store_rollback(fx->s);
    assert_int_equal(store_checkpoint_latest(fx->s, &size, &note, NULL), CU_OK);
    assert_int_equal(size, 30);
    free(note);
    reopen(fx);
    assert_int_equal(store_checkpoint_put(fx->s, 40, "note 40\n", NULL), CU_OK);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int count_staff(void *ctx, const struct store_staff *st)
{
    int *n = ctx;

    assert_non_null(st->username);
    (*n)++;
    return 0;
}

/* A staff row for `username` in store SZ-014, as staff_put takes it. */
static void staff_fill(struct store_staff *st, const char *username, const char *role)
{
    store_staff_init(st);
    st->username = xstrdup(username);
    st->role = xstrdup(role);
    st->store = xstrdup("SZ-014");
    st->password_hash = xstrdup("$argon2id$v=19$opaque-to-the-store");
    buf_add(&st->totp_sealed, "sealed-secret", 13);
}

static void test_staff(void **state)
{
    struct fx *fx = *state;
    struct store_staff a, b;
    char *err = NULL;
    int n = 0;

    staff_fill(&a, "alice", "clerk");
    store_staff_init(&b);
    a.must_change_password = 1;
    assert_int_equal(store_staff_put(fx->s, &a, 1, NULL), CU_OK);
    assert_int_equal(store_staff_put(fx->s, &a, 1, &err), CU_ERR_CONFLICT);
    assert_non_null(strstr(err, "alice"));
    free(err);
    assert_int_equal(store_staff_get(fx->s, "alice", &b, NULL), CU_OK);
    assert_string_equal(b.role, "clerk");
    assert_string_equal(b.store, "SZ-014");
    assert_int_equal(b.totp_sealed.len, 13);
    assert_int_equal(b.totp_last_step, -1);
    assert_int_equal(b.must_change_password, 1);
    assert_int_equal(b.suspended, 0);
    assert_true(b.created_at > 0);
    /* update every column */
    b.suspended = 1;
    b.totp_last_step = 12345;
    b.failed_logins = 3;
    assert_int_equal(store_staff_put(fx->s, &b, 0, NULL), CU_OK);
    store_staff_release(&b);
    assert_int_equal(store_staff_get(fx->s, "alice", &b, NULL), CU_OK);
    assert_int_equal(b.suspended, 1);
    assert_int_equal(b.totp_last_step, 12345);
    assert_int_equal(b.failed_logins, 3);
    free(a.username);
    a.username = xstrdup("bob");
    assert_int_equal(store_staff_put(fx->s, &a, 0, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_staff_put(fx->s, &a, 1, NULL), CU_OK);
    assert_int_equal(store_staff_get(fx->s, "carol", &b, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_staff_list(fx->s, count_staff, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    store_staff_release(&a);
    store_staff_release(&b);
}

static void test_sessions_and_throttle(void **state)
{
    struct fx *fx = *state;
    struct store_session a = {0}, b = {0};
    struct store_staff st;
    int64_t f, w, l;

    staff_fill(&st, "alice", "agent");
    assert_int_equal(store_staff_put(fx->s, &st, 1, NULL), CU_OK);
    store_staff_release(&st);
    memset(a.token_hash, 7, 32);
    a.username = "alice";
    a.created_at = a.last_seen = 100;
    a.expires_at = 200;
    assert_int_equal(store_session_put(fx->s, &a, NULL), CU_OK);
    /* the session comes with its account */
    assert_int_equal(store_session_get(fx->s, a.token_hash, &b, &st, NULL), CU_OK);
    assert_string_equal(b.username, "alice");
    assert_int_equal(b.created_at, 100);
    assert_int_equal(b.expires_at, 200);
    assert_string_equal(st.username, "alice");
    assert_string_equal(st.role, "agent");
    assert_string_equal(st.store, "SZ-014");
    assert_int_equal(store_session_touch(fx->s, a.token_hash, 150, NULL), CU_OK);
    assert_int_equal(store_session_get(fx->s, a.token_hash, &b, &st, NULL), CU_OK);
    assert_int_equal(b.last_seen, 150);
    /* a session whose account is gone is no session */
    a.username = "ghost";
    memset(a.token_hash, 9, 32);
    assert_int_equal(store_session_put(fx->s, &a, NULL), CU_OK);
    assert_int_equal(store_session_get(fx->s, a.token_hash, &b, &st, NULL), CU_ERR_NOT_FOUND);
    a.username = "alice";
    memset(a.token_hash, 8, 32);
    assert_int_equal(store_session_put(fx->s, &a, NULL), CU_OK);
    assert_int_equal(store_session_delete_user(fx->s, "alice", NULL), CU_OK);
    assert_int_equal(store_session_get(fx->s, a.token_hash, &b, &st, NULL), CU_ERR_NOT_FOUND);
    memset(a.token_hash, 7, 32);
    assert_int_equal(store_session_get(fx->s, a.token_hash, &b, &st, NULL), CU_ERR_NOT_FOUND);
    store_session_release(&b);
    store_staff_release(&st);

    assert_int_equal(store_throttle_get(fx->s, "10.0.0.1", &f, &w, &l, NULL), CU_OK);
    assert_int_equal(f + w + l, 0);
    assert_int_equal(store_throttle_put(fx->s, "10.0.0.1", 3, 1000, 2000, NULL), CU_OK);
    assert_int_equal(store_throttle_get(fx->s, "10.0.0.1", &f, &w, &l, NULL), CU_OK);
    assert_int_equal(f, 3);
    assert_int_equal(w, 1000);
    assert_int_equal(l, 2000);
}

static void test_cases(void **state)
{
    struct fx *fx = *state;
    struct store_case c, got;
    int tries = 0, i;

    store_case_init(&c);
    store_case_init(&got);
    c.id = xstrdup("K1");
    c.purpose = xstrdup("customer_support");
    c.customer_id = xstrdup("C00000001");
    c.requester = xstrdup("alice");
    c.requester_role = xstrdup("clerk");
    c.store = xstrdup("S001");
    c.status = xstrdup("awaiting_verification");
    c.has_code = 1;
    memset(c.code_hash, 0xab, 32);
    c.code_expires_at = 700;
    c.created_at = c.updated_at = 100;
    c.expires_at = 900;
    assert_int_equal(store_case_put(fx->s, &c, 1, NULL), CU_OK);
    assert_int_equal(store_case_put(fx->s, &c, 1, NULL), CU_ERR_CONFLICT);
    assert_int_equal(store_case_get(fx->s, "K1", &got, NULL), CU_OK);
    assert_string_equal(got.customer_id, "C00000001");
    assert_string_equal(got.requester_role, "clerk");
    assert_null(got.reason);
    assert_null(got.approver);
    assert_true(got.has_code);
    assert_memory_equal(got.code_hash, c.code_hash, 32);
    assert_int_equal(got.expires_at, 900);

    /* tries are taken one by one up to the limit, and no further */
    for (i = 1; i <= 5; i++) {
        assert_int_equal(store_case_take_try(fx->s, "K1", 5, &tries, NULL), CU_OK);
        assert_int_equal(tries, i);
    }
    assert_int_equal(store_case_take_try(fx->s, "K1", 5, &tries, NULL), CU_ERR_LIMIT);
    assert_int_equal(store_case_take_try(fx->s, "nope", 5, &tries, NULL), CU_ERR_LIMIT);

    /* an update changes the mutable columns only */
    free(c.status);
    c.status = xstrdup("verified");
    c.approver = xstrdup("bob");
    c.has_code = 0;
    c.code_tries = 2;
    c.updated_at = 200;
    free(c.customer_id);
    c.customer_id = xstrdup("C00000002");
    assert_int_equal(store_case_put(fx->s, &c, 0, NULL), CU_OK);
    assert_int_equal(store_case_get(fx->s, "K1", &got, NULL), CU_OK);
    assert_string_equal(got.status, "verified");
    assert_string_equal(got.approver, "bob");
    assert_null(got.cosigned_by);
    assert_false(got.has_code);
    assert_int_equal(got.code_tries, 2);
    assert_int_equal(got.updated_at, 200);
    assert_string_equal(got.customer_id, "C00000001");
    c.cosigned_by = xstrdup("sue");
    c.cosign_until = 500;
    assert_int_equal(store_case_put(fx->s, &c, 0, NULL), CU_OK);
    assert_int_equal(store_case_get(fx->s, "K1", &got, NULL), CU_OK);
    assert_string_equal(got.cosigned_by, "sue");
    assert_int_equal(got.cosign_until, 500);
    free(c.id);
    c.id = xstrdup("K2");
    assert_int_equal(store_case_put(fx->s, &c, 0, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_case_get(fx->s, "K2", &got, NULL), CU_ERR_NOT_FOUND);
    store_case_release(&c);
    store_case_release(&got);
}

struct msgs {
    int64_t ids[8];
    char status[8][16];
    size_t n;
};

static int collect_msg(void *ctx, const struct store_message *m)
{
    struct msgs *ms = ctx;

    assert_true(ms->n < 8);
    ms->ids[ms->n] = m->id;
    snprintf(ms->status[ms->n], sizeof(ms->status[0]), "%s", m->status);
    ms->n++;
    return 0;
}

static void test_outbox(void **state)
{
    struct fx *fx = *state;
    struct store_message m;
    struct msgs ms = {0};
    int64_t id[3];
    int i;

    store_message_init(&m);
    m.customer_id = xstrdup("C00000001");
    m.channel = xstrdup("sms");
    buf_addstr(&m.sealed, "sealed");
    m.status = xstrdup("pending");
    m.created_at = 100;
    for (i = 0; i < 3; i++) {
        m.next_attempt_at = 100 + 10 * i;
        assert_int_equal(store_outbox_add(fx->s, &m, &id[i], NULL), CU_OK);
    }
    assert_true(id[0] < id[1] && id[1] < id[2]);
    assert_int_equal(store_outbox_scan(fx->s, 0, 0, 10, collect_msg, &ms, NULL), CU_OK);
    assert_int_equal(ms.n, 3);
    ms.n = 0;
    /* due at 115: the first two */
    assert_int_equal(store_outbox_scan(fx->s, 0, 115, 10, collect_msg, &ms, NULL), CU_OK);
    assert_int_equal(ms.n, 2);
    /* a sent message is no longer due */
    m.id = id[0];
    free(m.status);
    m.status = xstrdup("sent");
    m.attempts = 1;
    m.delivered_at = 120;
    assert_int_equal(store_outbox_mark(fx->s, &m, NULL), CU_OK);
    ms.n = 0;
    assert_int_equal(store_outbox_scan(fx->s, 0, 1000, 10, collect_msg, &ms, NULL), CU_OK);
    assert_int_equal(ms.n, 2);
    assert_int_equal(ms.ids[0], id[1]);
    ms.n = 0;
    assert_int_equal(store_outbox_scan(fx->s, id[0] - 1, 0, 1, collect_msg, &ms, NULL), CU_OK);
    assert_int_equal(ms.n, 1);
    assert_string_equal(ms.status[0], "sent");
    store_message_release(&m);
}

/* Retention takes sent and failed messages older than the cut, oldest
 * first and at most `limit` at a time; pending ones and newer ones stay. */
static void test_outbox_expire(void **state)
{
    static const struct {
        int64_t created;
        const char *status;
    } rows[] = {{100, "sent"}, {50, "failed"}, {60, "pending"}, {500, "sent"}, {80, "sent"}};
    struct fx *fx = *state;
    struct store_message m;
    struct msgs ms = {0};
    int64_t id[CU_ARRAY_LEN(rows)];
    size_t i, n = 99;

    store_message_init(&m);
    m.customer_id = xstrdup("C00000001");
    m.channel = xstrdup("sms");
    buf_addstr(&m.sealed, "sealed");
    for (i = 0; i < CU_ARRAY_LEN(rows); i++) {
        free(m.status);
        m.status = xstrdup(rows[i].status);
        m.created_at = m.next_attempt_at = rows[i].created;
        assert_int_equal(store_outbox_add(fx->s, &m, &id[i], NULL), CU_OK);
    }
    /* one at a time: the oldest that is done, the failed one of 50 */
    assert_int_equal(store_outbox_expire(fx->s, 200, 1, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_outbox_scan(fx->s, 0, 0, 8, collect_msg, &ms, NULL), CU_OK);
    assert_int_equal(ms.n, 4);
    for (i = 0; i < ms.n; i++)
        assert_true(ms.ids[i] != id[1]);
    /* then the rest before 200: 80 and 100, not the pending 60 */
    assert_int_equal(store_outbox_expire(fx->s, 200, 100, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    ms.n = 0;
    assert_int_equal(store_outbox_scan(fx->s, 0, 0, 8, collect_msg, &ms, NULL), CU_OK);
    assert_int_equal(ms.n, 2);
    assert_int_equal(ms.ids[0], id[2]);
    assert_string_equal(ms.status[0], "pending");
    assert_int_equal(ms.ids[1], id[3]);
    /* nothing left to take */
    assert_int_equal(store_outbox_expire(fx->s, 200, 100, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    store_message_release(&m);
}

static int collect_notice(void *ctx, uint64_t audit_index, const char *customer_id,
                          int64_t created_at)
{
    uint64_t *got = ctx;

    (void)created_at;
    assert_true(got[0] < 8);
    assert_string_equal(customer_id, audit_index == 6 ? "C00000002" : "C00000001");
    got[1 + got[0]++] = audit_index;
    return 0;
}

/* Pending access notices; deleting one is how a server's courier claims it,
 * so a second delete, from another handle (another server), must fail. */
static void test_notices(void **state)
{
    static const struct store_notice batch[] = {
        {7, "C00000001", 100}, {5, "C00000001", 100}, {6, "C00000002", 100}};
    static const struct store_notice again = {5, "C00000001", 200};
    struct fx *fx = *state;
    struct store *s2;
    uint64_t got[9] = {0};
    char *err = NULL;

    assert_int_equal(store_notice_add(fx->s, batch, CU_ARRAY_LEN(batch), NULL), CU_OK);
    assert_int_equal(store_notice_add(fx->s, &again, 1, NULL), CU_OK); /* ignored */
    assert_int_equal(store_notice_add(fx->s, NULL, 0, NULL), CU_OK);
    assert_int_equal(store_notice_scan(fx->s, NULL, 0, SIZE_MAX, collect_notice, got, NULL), CU_OK);
    assert_int_equal(got[0], 3);
    assert_true(got[1] == 5 && got[2] == 6 && got[3] == 7);
    memset(got, 0, sizeof(got));
    assert_int_equal(store_notice_scan(fx->s, "C00000001", 6, SIZE_MAX, collect_notice, got, NULL),
                     CU_OK);
    assert_true(got[0] == 1 && got[1] == 7);

    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_notice_delete(fx->s, 5, NULL), CU_OK);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(store_notice_delete(s2, 5, &err), CU_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no such notice"));
    free(err);
    memset(got, 0, sizeof(got));
    assert_int_equal(store_notice_scan(s2, NULL, 0, SIZE_MAX, collect_notice, got, NULL), CU_OK);
    assert_true(got[0] == 2 && got[1] == 6 && got[2] == 7);
    store_free(s2);
}

struct recent_rows {
    size_t n;
    int64_t id[8], t[8];
    unsigned char key0[8];
};

static int collect_recent(void *ctx, int64_t id, int64_t t, const void *key, size_t len)
{
    struct recent_rows *r = ctx;

    assert_true(r->n < 8);
    assert_int_equal(len, 4);
    r->id[r->n] = id;
    r->t[r->n] = t;
    r->key0[r->n++] = *(const unsigned char *)key;
    return 0;
}

/* Look-up neighbourhoods: ids grow in commit order, so a reader takes only
 * the rows after the last it read; a window and a limit (the newest). */
static void test_recent(void **state)
{
    struct fx *fx = *state;
    struct recent_rows r = {0};
    unsigned char key[4] = {0};
    int64_t t;

    for (t = 100; t < 105; t++) {
        key[0] = (unsigned char)t;
        struct store_recent two[2] = {{"ann", t, key, sizeof(key)}, {"bob", t, key, sizeof(key)}};

        assert_int_equal(store_begin(fx->s, NULL), CU_OK);
        assert_int_equal(store_recent_add(fx->s, two, 2, NULL), CU_OK);
        assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    }
    assert_int_equal(store_recent_rows(fx->s, "ann", 0, 0, 100, collect_recent, &r, NULL), CU_OK);
    assert_int_equal(r.n, 5);
    for (size_t i = 1; i < 5; i++) {
        assert_true(r.id[i] > r.id[i - 1]);
        assert_int_equal(r.t[i], 100 + (int64_t)i);
        assert_int_equal(r.key0[i], 100 + i);
    }
    /* only what came after the third */
    t = r.id[2];
    memset(&r, 0, sizeof(r));
    assert_int_equal(store_recent_rows(fx->s, "ann", t, 0, 100, collect_recent, &r, NULL), CU_OK);
    assert_true(r.n == 2 && r.t[0] == 103 && r.t[1] == 104);
    /* the newest two, oldest first; and the window */
    memset(&r, 0, sizeof(r));
    assert_int_equal(store_recent_rows(fx->s, "ann", 0, 0, 2, collect_recent, &r, NULL), CU_OK);
    assert_true(r.n == 2 && r.t[0] == 103 && r.t[1] == 104);
    memset(&r, 0, sizeof(r));
    assert_int_equal(store_recent_rows(fx->s, "bob", 0, 102, 100, collect_recent, &r, NULL), CU_OK);
    assert_true(r.n == 3 && r.t[0] == 102);
    /* pruned rows are gone; new ones still come after the last read, even
     * once the table was empty (ids are never reused) */
    t = r.id[2];
    assert_int_equal(store_recent_prune(fx->s, "ann", 200, NULL), CU_OK);
    assert_int_equal(store_recent_prune(fx->s, "bob", 200, NULL), CU_OK);
    key[0] = 7;
    assert_int_equal(
        store_recent_add(fx->s, &(struct store_recent){"bob", 300, key, sizeof(key)}, 1, NULL),
        CU_OK);
    memset(&r, 0, sizeof(r));
    assert_int_equal(store_recent_rows(fx->s, "bob", t, 0, 100, collect_recent, &r, NULL), CU_OK);
    assert_true(r.n == 1 && r.t[0] == 300 && r.key0[0] == 7 && r.id[0] > t);
}

static int count_alert(void *ctx, const struct store_alert *a)
{
    int *n = ctx;

    assert_string_equal(a->rule, "canary");
    assert_string_equal(a->evidence, "[40,41,42]");
    (*n)++;
    return 0;
}

static int sum_rows(void *ctx, const struct store_count *c)
{
    *(int64_t *)ctx += c->bucket * c->n;
    return 0;
}

static void test_detect_counts_and_alerts(void **state)
{
    struct fx *fx = *state;
    struct store_count c[3] = {{"alice", 1, 100, 2}, {"alice", 1, 101, 3}, {"bob", 1, 100, 7}};
    struct store_alert a = {0};
    int64_t sum = -1, id = 0;
    int n = 0;

    assert_int_equal(store_detect_add(fx->s, c, 3, NULL), CU_OK);
    assert_int_equal(store_detect_add(fx->s, c, 1, NULL), CU_OK); /* adds, not replaces */
    sum = 0;
    assert_int_equal(store_detect_rows(fx->s, "alice", sum_rows, &sum, NULL), CU_OK);
    assert_int_equal(sum, 100 * 4 + 101 * 3); /* bucket x n: (100, 2 + 2), (101, 3) */
    sum = 0;
    assert_int_equal(store_detect_rows(fx->s, "carol", sum_rows, &sum, NULL), CU_OK);
    assert_int_equal(sum, 0);
    /* metric 1 is hour-sized (1 % 4): prune hour buckets before 101 */
    {
        int64_t kept[3] = {0, 101, 0};

        assert_int_equal(store_detect_prune(fx->s, "alice", kept, NULL), CU_OK);
    }
    sum = 0;
    assert_int_equal(store_detect_rows(fx->s, "alice", sum_rows, &sum, NULL), CU_OK);
    assert_int_equal(sum, 101 * 3);
    sum = 0;
    assert_int_equal(store_detect_rows(fx->s, "bob", sum_rows, &sum, NULL), CU_OK);
    assert_int_equal(sum, 100 * 7); /* another staff member's rows stay */

    a.created_at = 5;
    a.staff = "alice";
    a.rule = "canary";
    a.severity = "critical";
    a.detail = "a canary customer was looked up";
    a.audit_index = 42;
    a.evidence = "[40,41,42]";
    assert_int_equal(store_alert_add(fx->s, &a, &id, NULL), CU_OK);
    assert_true(id > 0);
    assert_int_equal(store_alert_list(fx->s, "open", 10, count_alert, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    assert_int_equal(store_alert_ack(fx->s, id, "sam", 9, NULL), CU_OK);
    assert_int_equal(store_alert_ack(fx->s, id, "sam", 9, NULL), CU_ERR_NOT_FOUND);
    n = 0;
    assert_int_equal(store_alert_list(fx->s, "open", 10, count_alert, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_alert_list(fx->s, NULL, 10, count_alert, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    /* canaries */
    {
        unsigned char tag[16], other[16];
        int has = -1;

        memset(tag, 7, sizeof(tag));
        memset(other, 8, sizeof(other));
        assert_int_equal(store_canary_has(fx->s, tag, &has, NULL), CU_OK);
        assert_int_equal(has, 0);
        assert_int_equal(store_canary_add(fx->s, tag, NULL), CU_OK);
        assert_int_equal(store_canary_add(fx->s, tag, NULL), CU_OK); /* twice is fine */
        assert_int_equal(store_canary_has(fx->s, tag, &has, NULL), CU_OK);
        assert_int_equal(has, 1);
        assert_int_equal(store_canary_has(fx->s, other, &has, NULL), CU_OK);
        assert_int_equal(has, 0);
    }
}

/* ---- erasure ---- */

/* A customer whose wrapped key and sealed fields are random bytes (so that
 * they can be looked for in the raw files), with `nblind` blind entries. */
static void make_random_customer(struct store_customer *c, int n, int nblind)
{
    unsigned char bytes[96];
    char id[16];
    int f, i, j;

    store_customer_reset(c);
    snprintf(id, sizeof(id), "C%08d", n);
    c->customer_id = strdup(id);
    c->kek_version = 1;
    c->dek_version = 1;
    for (j = 0; j < 72; j++)
        bytes[j] = (unsigned char)rand();
    buf_add(&c->wrapped_dek, bytes, 72);
    for (f = 0; f < MODEL_F__COUNT; f++) {
        for (j = 0; j < (int)sizeof(bytes); j++)
            bytes[j] = (unsigned char)rand();
        buf_add(&c->sealed[f], bytes, 40 + (size_t)(f * 7));
    }
    for (i = 0; i < nblind; i++)
        store_customer_add_blind(c, (uint8_t)(1 + i % 5),
                                 ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^
                                     (uint64_t)rand());
}

static void add_message(struct store *s, const char *customer_id, const char *status)
{
    struct store_message m;
    int64_t id;

    store_message_init(&m);
    m.customer_id = xstrdup(customer_id);
    m.channel = xstrdup("sms");
    buf_addstr(&m.sealed, "sealed-message");
    m.status = xstrdup(status);
    m.created_at = m.next_attempt_at = 100;
    assert_int_equal(store_outbox_add(s, &m, &id, NULL), CU_OK);
    store_message_release(&m);
}

static void add_case(struct store *s, const char *id, const char *customer_id, const char *status)
{
    struct store_case c;

    store_case_init(&c);
    c.id = xstrdup(id);
    c.purpose = xstrdup("customer_support");
    c.customer_id = xstrdup(customer_id);
    c.requester = xstrdup("alice");
    c.requester_role = xstrdup("clerk");
    c.store = xstrdup("S001");
    c.status = xstrdup(status);
    c.created_at = c.updated_at = 100;
    c.expires_at = 900;
    assert_int_equal(store_case_put(s, &c, 1, NULL), CU_OK);
    store_case_release(&c);
}

struct msg_count {
    const char *customer_id;
    int n;
};

static int count_msgs(void *ctx, const struct store_message *m)
{
    struct msg_count *mc = ctx;

    if (strcmp(m->customer_id, mc->customer_id) == 0)
        mc->n++;
    return 0;
}

static int messages_of(struct store *s, const char *customer_id)
{
    struct msg_count mc = {customer_id, 0};

    assert_int_equal(store_outbox_scan(s, 0, 0, 1000, count_msgs, &mc, NULL), CU_OK);
    return mc.n;
}

static void test_customer_erase(void **state)
{
    struct fx *fx = *state;
    struct store_customer c, keep, got;
    struct store_erase_result res;
    struct store_case k;
    int64_t at = 0, n = 0;
    char *err = NULL;
    size_t i;

    store_customer_init(&c);
    store_customer_init(&keep);
    store_customer_init(&got);
    store_case_init(&k);
    make_customer(&c, 1, 5);
    make_customer(&keep, 2, 5);
    /* the neighbour shares one blind entry (say, a phone) with it */
    keep.blind[0] = c.blind[0];
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_int_equal(store_customer_insert(fx->s, &keep, NULL), CU_OK);
    add_message(fx->s, "C00000001", "sent");
    add_message(fx->s, "C00000001", "pending");
    add_message(fx->s, "C00000002", "pending");
    add_case(fx->s, "K1", "C00000001", "verified");
    add_case(fx->s, "K2", "C00000001", "closed");
    add_case(fx->s, "K3", "C00000002", "verified");
    /* the customer portal's rows of both */
    raw_exec(fx->path, fx->pg
                           ? "INSERT INTO subject_codes VALUES('C00000001', '\\x01', 0, 0, 0),"
                             " ('C00000002', '\\x02', 0, 0, 0);"
                             "INSERT INTO subject_sessions VALUES('\\x01', 'C00000001', 0, 0),"
                             " ('\\x02', 'C00000002', 0, 0);"
                             "INSERT INTO subject_prefs VALUES('C00000001', 1), ('C00000002', 1);"
                             "INSERT INTO notices VALUES(1, 'C00000001', 0), (2, 'C00000002', 0)"
                           : "INSERT INTO subject_codes VALUES('C00000001', x'01', 0, 0, 0),"
                             " ('C00000002', x'02', 0, 0, 0);"
                             "INSERT INTO subject_sessions VALUES(x'01', 'C00000001', 0, 0),"
                             " (x'02', 'C00000002', 0, 0);"
                             "INSERT INTO subject_prefs VALUES('C00000001', 1), ('C00000002', 1);"
                             "INSERT INTO notices VALUES(1, 'C00000001', 0), (2, 'C00000002', 0)");

    assert_int_equal(store_erased_get(fx->s, "C00000001", &at, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_customer_erase(fx->s, "C00000001", 1234, &res, &err), CU_OK);
    assert_int_equal(res.blind, 5);
    assert_int_equal(res.messages, 2);
    assert_int_equal(res.cases, 1);
    /* the row, its blind entries and its messages are gone */
    assert_int_equal(store_customer_get(fx->s, "C00000001", &got, NULL), CU_ERR_NOT_FOUND);
    for (i = 1; i < c.nblind; i++)
        assert_int_equal(find_n(fx->s, c.blind[i].kind, c.blind[i].hash), 0);
    assert_int_equal(messages_of(fx->s, "C00000001"), 0);
    assert_int_equal(raw_int(fx->path, "SELECT (SELECT count(*) FROM subject_codes) +"
                                       " (SELECT count(*) FROM subject_sessions) +"
                                       " (SELECT count(*) FROM subject_prefs) +"
                                       " (SELECT count(*) FROM notices)"),
                     4); /* the other customer's */
    assert_int_equal(raw_int(fx->path, "SELECT count(*) FROM subject_sessions"
                                       " WHERE customer_id = 'C00000001'"),
                     0);
    assert_int_equal(store_erased_get(fx->s, "C00000001", &at, NULL), CU_OK);
    assert_int_equal(at, 1234);
    assert_int_equal(store_case_get(fx->s, "K1", &k, NULL), CU_OK);
    assert_string_equal(k.status, "closed");
    assert_int_equal(k.updated_at, 1234);
    /* the neighbour is untouched, its share of the blind entry included */
    assert_int_equal(store_customer_get(fx->s, "C00000002", &got, NULL), CU_OK);
    assert_customer_equal(&got, &keep);
    assert_int_equal(find_n(fx->s, c.blind[0].kind, c.blind[0].hash), 1);
    assert_int_equal(messages_of(fx->s, "C00000002"), 1);
    assert_int_equal(store_case_get(fx->s, "K3", &k, NULL), CU_OK);
    assert_string_equal(k.status, "verified");
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 1);
    /* a second erase, or one of nobody, finds nothing to erase */
    assert_int_equal(store_customer_erase(fx->s, "C00000001", 0, &res, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_customer_erase(fx->s, "C00000009", 0, &res, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(store_erased_get(fx->s, "C00000009", &at, NULL), CU_ERR_NOT_FOUND);
    /* inside a caller's transaction it is part of it: a rollback undoes it */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_customer_erase(fx->s, "C00000002", 0, &res, NULL), CU_OK);
    store_rollback(fx->s);
    assert_int_equal(store_customer_get(fx->s, "C00000002", &got, NULL), CU_OK);
    assert_int_equal(store_erased_get(fx->s, "C00000002", &at, NULL), CU_ERR_NOT_FOUND);
    /* blind rows still queued in the transaction are erased too */
    make_customer(&c, 3, 4);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_customer_insert(fx->s, &c, NULL), CU_OK);
    assert_int_equal(store_customer_erase(fx->s, "C00000003", 0, &res, NULL), CU_OK);
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(res.blind, 4);
    for (i = 0; i < c.nblind; i++)
        assert_int_equal(find_n(fx->s, c.blind[i].kind, c.blind[i].hash), 0);
    /* a tombstone survives a reopen, and the id is never stored again
     * (whoever read the erased ids before the erasure) */
    reopen(fx);
    assert_int_equal(store_erased_get(fx->s, "C00000001", &at, NULL), CU_OK);
    make_customer(&c, 1, 2);
    assert_int_equal(store_customer_insert(fx->s, &c, &err), CU_ERR_INVALID);
    assert_non_null(strstr(err, "erased"));
    assert_int_equal(store_customer_get(fx->s, "C00000001", &got, NULL), CU_ERR_NOT_FOUND);
    assert_int_equal(find_n(fx->s, c.blind[1].kind, c.blind[1].hash), 0);
    free(err);
    store_customer_release(&c);
    store_customer_release(&keep);
    store_customer_release(&got);
    store_case_release(&k);
}

/* Reads a whole file (empty when it does not exist). */
static void slurp(const char *path, struct buf *out)
{
    FILE *fp = fopen(path, "rb");
    char chunk[65536];
    size_t n;

    buf_reset(out);
    if (fp == NULL)
        return;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        buf_add(out, chunk, n);
    fclose(fp);
}

/* How many of the store's raw files (database, WAL, shared memory) hold
 * the bytes b. */
static int raw_files_holding(const char *path, const struct buf *b)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    struct buf data = BUF_INIT;
    char name[200];
    int hits = 0;
    size_t i;

    for (i = 0; i < CU_ARRAY_LEN(suffix); i++) {
        snprintf(name, sizeof(name), "%s%s", path, suffix[i]);
        slurp(name, &data);
        if (data.len > 0 && memmem(data.data, data.len, b->data, b->len) != NULL)
            hits++;
    }
    buf_release(&data);
    return hits;
}

static int customer_bytes_in_files(const char *path, const struct store_customer *c)
{
    int f, hits = raw_files_holding(path, &c->wrapped_dek);

    for (f = 0; f < MODEL_F__COUNT; f++)
        hits += raw_files_holding(path, &c->sealed[f]);
    return hits;
}

/*
 * What an erase leaves in the files: nothing of the customer, neither its
 * current row nor the older version a replace left behind, in the
 * database, its WAL or the shared-memory file; the neighbours' bytes are
 * all still there (so the search does find what is present).
 */
static void test_erase_leaves_no_bytes_in_files(void **state)
{
    struct fx *fx = *state;
    struct store_customer target, old, other;
    struct store_erase_result res;
    int complete = 0, n;

    srand(42);
    store_customer_init(&target);
    store_customer_init(&old);
    store_customer_init(&other);
    /* enough customers for the tables to span many pages and split */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    for (n = 1; n <= 1500; n++) {
        make_random_customer(&other, n, 5);
        if (n == 700)
            make_random_customer(&old, n, 5);
        assert_int_equal(store_customer_insert(fx->s, n == 700 ? &old : &other, NULL), CU_OK);
    }
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    /* pushed into the database file, then updated (an import again) so
     * that both the file and the WAL hold versions of it */
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_OK);
    assert_int_equal(complete, 1);
    make_random_customer(&target, 700, 5);
    assert_int_equal(store_customer_replace(fx->s, &target, NULL), CU_OK);
    add_message(fx->s, "C00000700", "pending");
    assert_true(customer_bytes_in_files(fx->path, &target) >= 8);
    assert_true(customer_bytes_in_files(fx->path, &old) >= 8);

    assert_int_equal(store_customer_erase(fx->s, "C00000700", 0, &res, NULL), CU_OK);
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_OK);
    assert_int_equal(complete, 1);
    assert_int_equal(customer_bytes_in_files(fx->path, &target), 0);
    assert_int_equal(customer_bytes_in_files(fx->path, &old), 0);
    /* the last customer made is still in the file, whole */
    assert_int_equal(customer_bytes_in_files(fx->path, &other), 8);
    /* a scrub inside a transaction is a bug */
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_ERR_INTERNAL);
    store_rollback(fx->s);
    store_customer_release(&target);
    store_customer_release(&old);
    store_customer_release(&other);
}

#ifdef CU_STORE_PG
/* ---- PostgreSQL only ---- */

/* Ends every connection to the run's database but the caller's (as a
 * server restart would), and waits until they are gone. */
static void pg_kill_connections(struct fx *fx)
{
    char sql[256];
    int i;

    (void)fx;
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s'"
             " AND pid <> pg_backend_pid()",
             pg_db);
    assert_true(pg_raw(pg_base, sql) >= 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <>"
             " pg_backend_pid()",
             pg_db);
    for (i = 0; i < 200 && pg_raw(pg_base, sql) > 0; i++)
        usleep(10000);
}

/* An unreachable server: CU_ERR_STORE at once, naming the server (host,
 * port, database), never the password. */
static void test_pg_unreachable(void **state)
{
    struct store *s2 = NULL;
    char *err = NULL;
    double t0 = cu_monotonic();

    (void)state;
    assert_int_equal(store_open(&s2, "postgresql://cu:hunter2@127.0.0.1:1/custodian", &err),
                     CU_ERR_STORE);
    assert_null(s2);
    assert_true(cu_monotonic() - t0 < 5.0);
    assert_non_null(strstr(err, "127.0.0.1:1/custodian"));
    assert_non_null(strstr(err, "connect"));
    assert_null(strstr(err, "hunter2"));
    assert_null(strchr(err, '\n'));
    free(err);
}

/*
 * The server drops the connection (a restart): outside a transaction the
 * next call runs on a new connection; inside one, the transaction fails
 * with CU_ERR_STORE, its later calls and its commit too (fail closed),
 * and after the rollback the store works again.  The audit lock goes with
 * the dead connection.
 */
static void test_pg_reconnect(void **state)
{
    struct fx *fx = *state;
    struct collect col;
    char *err = NULL;
    int64_t n = 0;

    insert_n(fx->s, 0, 2);
    pg_kill_connections(fx);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 2);
    pg_kill_connections(fx);
    insert_n(fx->s, 2, 3); /* a write, prepared again on the new connection */

    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    insert_n(fx->s, 3, 4);
    pg_kill_connections(fx);
    assert_int_equal(store_meta_set(fx->s, "k", "v", &err), CU_ERR_STORE);
    assert_non_null(strstr(err, "write setting"));
    free(err);
    err = NULL;
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_ERR_STORE);
    assert_int_equal(store_commit(fx->s, &err), CU_ERR_STORE);
    assert_non_null(strstr(err, "rolled back"));
    free(err);
    err = NULL;
    store_rollback(fx->s);
    assert_int_equal(store_customer_count(fx->s, &n, NULL), CU_OK);
    assert_int_equal(n, 3);

    /* the audit writer's transaction, holding the lock, dies */
    append_n(fx->s, 0, 3, 3);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(audit_size(fx->s), 3);
    pg_kill_connections(fx);
    append_n(fx->s, 3, 0, 1); /* nothing: no call */
    {
        static struct rowbuf rb;

        make_rows(&rb, 3, 2);
        assert_int_equal(store_audit_append(fx->s, rb.rows, 2, NULL), CU_ERR_STORE);
    }
    assert_int_equal(store_commit(fx->s, NULL), CU_ERR_STORE);
    store_rollback(fx->s);
    append_n(fx->s, 3, 2, 2);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 5);
}

struct appender {
    struct store *s;
    uint64_t first;
    int rc;
    double done_at;
};

static void *append_thread(void *arg)
{
    struct appender *a = arg;
    static struct rowbuf rb;

    make_rows(&rb, a->first, 2);
    a->rc = store_audit_append(a->s, rb.rows, 2, NULL);
    a->done_at = cu_monotonic();
    return NULL;
}

/*
 * Two servers on one database: the log's writers take turns.  While one
 * holds the audit lock (its transaction read the size), the other's
 * append waits, and then sees what the first committed: numbering its
 * entries from the old size is a conflict, never a duplicate index.
 */
static void test_pg_audit_lock(void **state)
{
    struct fx *fx = *state;
    struct appender a = {NULL, 5, -1, 0};
    struct collect col;
    pthread_t t;
    double committed;

    append_n(fx->s, 0, 5, 5);
    assert_int_equal(store_open(&a.s, fx->path, NULL), CU_OK);
    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(audit_size(fx->s), 5);
    assert_int_equal(pthread_create(&t, NULL, append_thread, &a), 0);
    usleep(300000);
    assert_int_equal(a.rc, -1); /* still waiting */
    append_n(fx->s, 5, 3, 3);
    committed = cu_monotonic();
    assert_int_equal(store_commit(fx->s, NULL), CU_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.rc, CU_ERR_CONFLICT);
    assert_true(a.done_at >= committed);
    /* numbered from the size it sees now, it goes in */
    a.first = 8;
    a.rc = -1;
    append_thread(&a);
    assert_int_equal(a.rc, CU_OK);
    assert_int_equal(scan_all(fx->s, 0, 100, &col), 10);
    assert_int_equal(col.idx[9], 9);
    store_free(a.s);
}

/*
 * store_scrub on PostgreSQL: VACUUM of the erased rows' tables.  Complete
 * when no dead row had to be kept; not while another transaction older
 * than the erase is open (it may still read them); and never inside a
 * transaction.
 */
static void test_pg_scrub(void **state)
{
    struct fx *fx = *state;
    struct store_erase_result res;
    struct store *s2 = NULL;
    int complete = -1;

    insert_n(fx->s, 0, 20);
    add_message(fx->s, "C00000003", "pending");
    assert_int_equal(store_customer_erase(fx->s, "C00000003", 0, &res, NULL), CU_OK);
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_OK);
    assert_int_equal(complete, 1);
    assert_int_equal(raw_int(fx->path, "SELECT coalesce(sum(n_dead_tup), 0) FROM"
                                       " pg_stat_user_tables WHERE schemaname = current_schema()"
                                       " AND relname IN ('customers', 'blind', 'outbox')"),
                     0);

    /* an older transaction keeps the next erase's rows */
    assert_int_equal(store_open(&s2, fx->path, NULL), CU_OK);
    assert_int_equal(store_begin(s2, NULL), CU_OK);
    assert_int_equal(store_meta_set(s2, "k", "v", NULL), CU_OK);
    assert_int_equal(store_customer_erase(fx->s, "C00000004", 0, &res, NULL), CU_OK);
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_OK);
    assert_int_equal(complete, 0);
    assert_int_equal(store_commit(s2, NULL), CU_OK);
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_OK);
    assert_int_equal(complete, 1);
    store_free(s2);

    assert_int_equal(store_begin(fx->s, NULL), CU_OK);
    assert_int_equal(store_scrub(fx->s, &complete, NULL), CU_ERR_INTERNAL);
    store_rollback(fx->s);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_and_migrates),
        T(test_reopen_keeps_data),
        T(test_newer_schema_refused),
        T(test_foreign_files_refused),
        T(test_url_schemes),
        T(test_insert_get_roundtrip),
        T(test_insert_conflict),
        T(test_replace),
        T(test_blind_find),
        T(test_rollback),
        T(test_blind_in_transaction),
        T(test_dek_scan),
        T(test_dek_scan_holds_rows),
        T(test_dek_update_and_usage),
        T(test_kek_put_list),
        T(test_kek_hold),
        T(test_staff_lock),
        T(test_meta),
        T(test_count),
        cmocka_unit_test(test_blind_encoding),
        cmocka_unit_test(test_customer_struct_reuse),
        T(test_two_handles),
        T(test_grouped_reads),
        T(test_commits_relaxed),
        T(test_checkpoint),
        T(test_migrate_v1_to_now),
        T(test_audit_append_scan),
        T(test_audit_append_conflict),
        T(test_audit_append_rollback),
        T(test_audit_two_writers),
        T(test_audit_append_fails_midway),
        T(test_audit_find),
        T(test_audit_index_apart),
        T(test_audit_scan_stop),
        T(test_tiles),
        T(test_checkpoints),
        T(test_staff),
        T(test_sessions_and_throttle),
        T(test_cases),
        T(test_outbox),
        T(test_outbox_expire),
        T(test_notices),
        T(test_recent),
        T(test_detect_counts_and_alerts),
        T(test_customer_erase),
        T(test_erase_leaves_no_bytes_in_files),
    };
#ifdef CU_STORE_PG
    /* Not repeated on PostgreSQL: no store involved, the URL dispatch, or
     * SQLite's files. */
    static const char *const sqlite_only[] = {"test_url_schemes", "test_blind_encoding",
                                              "test_customer_struct_reuse",
                                              "test_erase_leaves_no_bytes_in_files"};
    static const struct CMUnitTest pg_only[] = {
        cmocka_unit_test_setup_teardown(test_pg_unreachable, NULL, NULL),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_pg_audit_lock, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub, setup_pg, teardown),
    };
    static char names[CU_ARRAY_LEN(tests)][96];
    struct CMUnitTest all[2 * CU_ARRAY_LEN(tests) + CU_ARRAY_LEN(pg_only)];
    const char *env = getenv("CUSTODIAN_TEST_STORE");
    const char *slash;
    char sql[128];
    size_t n = 0, i, k;
    int rc;

    for (i = 0; i < CU_ARRAY_LEN(tests); i++)
        all[n++] = tests[i];
    if (env == NULL || !is_pg(env)) {
        printf("# CUSTODIAN_TEST_STORE does not name a postgres:// server: the PostgreSQL back "
               "end is not tested\n");
        return _cmocka_run_group_tests("store", all, n, NULL, NULL);
    }
    pg_base = env;
    slash = strrchr(pg_base, '/');
    snprintf(pg_db, sizeof(pg_db), "cu_test_store_%d", (int)getpid());
    snprintf(pg_db_url, sizeof(pg_db_url), "%.*s/%s", (int)(slash - pg_base), pg_base, pg_db);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg_db);
    pg_raw(pg_base, sql);
    for (i = 0; i < CU_ARRAY_LEN(tests); i++) {
        for (k = 0; k < CU_ARRAY_LEN(sqlite_only); k++)
            if (strcmp(tests[i].name, sqlite_only[k]) == 0)
                break;
        if (k < CU_ARRAY_LEN(sqlite_only))
            continue;
        all[n] = tests[i];
        snprintf(names[i], sizeof(names[i]), "%s [postgresql]", tests[i].name);
        all[n].name = names[i];
        all[n].setup_func = setup_pg;
        n++;
    }
    for (i = 0; i < CU_ARRAY_LEN(pg_only); i++)
        all[n++] = pg_only[i];
    rc = _cmocka_run_group_tests("store", all, n, NULL, NULL);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", pg_db);
    pg_raw(pg_base, sql);
    return rc;
#else
    return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
