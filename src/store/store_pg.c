/*
 * The PostgreSQL back end of the store (libpq), selected by a
 * "postgres://" or "postgresql://" store URL.
 *
 * One connection per `struct store` (each server worker thread opens its
 * own store, so a server holds one connection per worker, plus the audit
 * writer's and the audit indexer's).  Every statement is prepared once per
 * connection, on first use, under a name of its own ("cu<N>"), with its
 * parameter types declared; parameters and results travel in binary
 * format (no escaping of blobs, no text parsing of integers).  Lists of
 * values (the blind entries of a customer, a batch of audit entries, a
 * chunk of the audit look-up index) go as one array parameter each, so
 * that a write is one round trip whatever its size.
 *
 * Schema: the table custodian_store holds the number of migrations
 * applied; the `migrations` array below lists them with the same numbers
 * as the SQLite back end's, so that a schema version means the same tables
 * on both.  The missing ones run in one transaction under an advisory
 * lock (the servers that start together migrate once).  A database newer than the
 * code is refused, and so is a schema that holds other tables but no
 * custodian_store.  The tables go in the connection's current schema (the
 * first of search_path that exists), so several stores can share one
 * database in schemas of their own ("?options=-csearch_path%3Dname").
 *
 * Transactions run at READ COMMITTED.  The public begin/commit/rollback
 * map to BEGIN / COMMIT / ROLLBACK; an operation made of several
 * statements runs inside a SAVEPOINT when the caller has a transaction
 * open, or in its own BEGIN ... COMMIT otherwise, as in the SQLite back
 * end.  Unlike SQLite, PostgreSQL aborts the whole transaction when any
 * statement fails: expected outcomes (an existing id, a missing row) are
 * therefore never statement errors here (ON CONFLICT DO NOTHING, row
 * counts), and an unexpected error inside a caller's transaction leaves it
 * failed: its commit then fails too (fail closed).
 *
 * The audit log is one log for every server on the database: its writers
 * serialise on an advisory transaction lock, taken by the first
 * store_audit_size or store_audit_append of a transaction and held until
 * it ends.  The size is read after the lock is taken (a statement of its
 * own, so under a snapshot that includes what the previous holder
 * committed), which is what the audit writer (src/audit/log.c) needs to
 * catch up with entries another server appended before numbering its own.
 *
 * Connection failures: outside a transaction, a statement that fails
 * because the connection is gone (the server restarted) is retried once on
 * a new connection (PQreset; the prepared statements are prepared again).
 * Inside a transaction nothing is retried: the statement fails with
 * CU_ERR_STORE, and so do the rest of the transaction and its commit, so
 * that callers fail closed.  Errors name the operation and the server
 * (host, port, database), never the URL's password, and carry
 * PostgreSQL's primary message only (never the DETAIL line, which may
 * quote a row).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* store_commits_relaxed: this session's commits do not wait for the WAL
 * flush. */
#define RELAX_SQL "SET synchronous_commit = off"

/* Type OIDs (pg_type.dat), fixed since PostgreSQL 7. */
#define OID_BOOL        16
#define OID_BYTEA       17
#define OID_INT8        20
#define OID_INT2        21
#define OID_INT4        23
#define OID_TEXT        25
#define OID_BYTEA_ARRAY 1001
#define OID_TEXT_ARRAY  1009
#define OID_INT8_ARRAY  1016

/* Advisory lock keys: "CUST" and a hash of the schema and purpose. */
#define LOCK_KEY "1129665364"

/* Rows fetched per round trip by the scans that may be long. */
#define SCAN_PAGE 1024
/* Audit look-up index rows per INSERT. */
#define INDEX_ROWS 16384

/* The oldest server this code runs on (multi-table VACUUM). */
#define PG_MIN_VERSION 110000

_Static_assert(MODEL_F__COUNT == 7, "the customers table has one column per model_field");
#define SEALED_COLS "account, name, phone, email, address, birth_date, devices"
#define CUSTOMER_COLS                                                                              \
    "id, customer_id, kek_version, dek_version, dek, " SEALED_COLS                                 \
    ", blind, import_run, created_at, updated_at"
#define COL_SEALED 5
#define COL_BLIND  (COL_SEALED + MODEL_F__COUNT)

#define AUDIT_COLS "idx, time_ms, actor, subject, leaf"
#define STAFF_COLS                                                                                 \
    "username, role, store, password, totp, totp_last_step, must_change, suspended,"               \
    " failed_logins, locked_until, created_at, updated_at"
#define STAFF_NCOLS 12 /* staff_row() reads columns 0 .. STAFF_NCOLS - 1 */
#define CASE_COLS                                                                                  \
    "id, purpose, customer_id, requester, requester_role, store, status, reason, approver,"        \
    " code_hash, code_expires_at, code_tries, created_at, updated_at, expires_at, cosigned_by,"    \
    " cosign_until"
#define OUTBOX_COLS                                                                                \
    "id, customer_id, case_id, channel, sealed, status, attempts, next_attempt_at, last_error,"    \
    " created_at, delivered_at"

/*
 * Migrations, oldest first: migrations[i] takes the schema from version i
 * to i + 1, numbered as the SQLite back end's (a step that SQLite needed
 * and PostgreSQL does not is kept as a no-op, so the numbers stay the
 * same).  Never edit a released step; append a new one.  Integers are
 * bigint throughout (the interface's int64_t), blobs bytea; text that is
 * listed in order is COLLATE "C", the byte order SQLite uses.
 */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE keks(version bigint PRIMARY KEY, state bigint NOT NULL, wrapped bytea,"
    " created_at bigint NOT NULL);"
    "CREATE TABLE customers(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " customer_id text NOT NULL UNIQUE, kek_version bigint NOT NULL,"
    " dek_version bigint NOT NULL, dek bytea NOT NULL, account bytea, name bytea, phone bytea,"
    " email bytea, address bytea, birth_date bytea, devices bytea, blind bytea NOT NULL,"
    " import_run bigint NOT NULL DEFAULT 0, created_at bigint NOT NULL,"
    " updated_at bigint NOT NULL);"
    "CREATE INDEX customers_kek ON customers(kek_version);"
    /* hash: the uint64 blind value as a signed bigint; the primary key
     * is the (kind, hash) look-up.  By customer too (replace, erase):
     * customer ids only grow, so the second index is appended to, cheap
     * even for a bulk import. */
    "CREATE TABLE blind(kind bigint NOT NULL, hash bigint NOT NULL, customer bigint NOT NULL,"
    " PRIMARY KEY(kind, hash, customer));"
    "CREATE INDEX blind_by_customer ON blind(customer);",
    /* 2: audit log storage: entries, hash tiles, signed checkpoints */
    "CREATE TABLE audit_entries(idx bigint PRIMARY KEY, time_ms bigint NOT NULL, actor text,"
    " subject bytea, leaf bytea NOT NULL);"
    "CREATE TABLE audit_tiles(level bigint NOT NULL, idx bigint NOT NULL, hashes bytea NOT NULL,"
    " PRIMARY KEY(level, idx));"
    "CREATE TABLE audit_checkpoints(size bigint PRIMARY KEY, note text NOT NULL);",
    /* 3: the audit look-up index, built behind the log
     * (store_audit_index): keys 0x01 || actor, 0x02 || subject; the
     * watermark (the first entry not indexed) in a one-row table of its
     * own, locked by the indexer, so that indexing never touches what
     * the log's writers lock */
    "CREATE TABLE audit_index(key bytea NOT NULL, idx bigint NOT NULL, PRIMARY KEY(key, idx));"
    "CREATE TABLE audit_index_state(id bigint PRIMARY KEY CHECK (id = 1),"
    " indexed bigint NOT NULL);"
    "INSERT INTO audit_index_state(id, indexed) VALUES(1, 0);",
    /* 4: staff accounts (password: Argon2id string; TOTP secret sealed) */
    "CREATE TABLE staff(username text COLLATE \"C\" PRIMARY KEY, role text NOT NULL,"
    " store text NOT NULL, password text NOT NULL, totp bytea NOT NULL,"
    " totp_last_step bigint NOT NULL, must_change bigint NOT NULL, suspended bigint NOT NULL,"
    " failed_logins bigint NOT NULL, locked_until bigint NOT NULL, created_at bigint NOT NULL,"
    " updated_at bigint NOT NULL);",
    /* 5: sessions (under the keyed hash of the token) and log-in throttling */
    "CREATE TABLE sessions(token_hash bytea PRIMARY KEY, username text NOT NULL,"
    " created_at bigint NOT NULL, last_seen bigint NOT NULL, expires_at bigint NOT NULL);"
    "CREATE INDEX sessions_by_user ON sessions(username);"
    "CREATE TABLE login_throttle(client text PRIMARY KEY, failures bigint NOT NULL,"
    " window_start bigint NOT NULL, locked_until bigint NOT NULL);",
    /* 6: cases (the code only as a keyed hash) and the customer outbox */
    "CREATE TABLE cases(id text PRIMARY KEY, purpose text NOT NULL, customer_id text NOT NULL,"
    " requester text NOT NULL, requester_role text NOT NULL, store text NOT NULL,"
    " status text NOT NULL, reason text, approver text, code_hash bytea,"
    " code_expires_at bigint NOT NULL, code_tries bigint NOT NULL, created_at bigint NOT NULL,"
    " updated_at bigint NOT NULL, expires_at bigint NOT NULL);"
    "CREATE INDEX cases_by_customer ON cases(customer_id);"
    "CREATE TABLE outbox(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " customer_id text NOT NULL, case_id text, channel text NOT NULL, sealed bytea NOT NULL,"
    " status text NOT NULL, attempts bigint NOT NULL, next_attempt_at bigint NOT NULL,"
    " last_error text, created_at bigint NOT NULL, delivered_at bigint NOT NULL);"
    "CREATE INDEX outbox_by_customer ON outbox(customer_id);"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';",
    /* 7: SQLite moved its look-up index to a file of its own here; the
     * table of migration 3 already stands apart.  The log's id, as in
     * SQLite. */
    "INSERT INTO meta(key, value) VALUES('audit_log_id', md5(random()::text ||"
    " clock_timestamp()::text)) ON CONFLICT(key) DO NOTHING;",
    /* 8: insider detection: per-staff counters in time buckets and alerts */
    "CREATE TABLE detect_counts(staff text NOT NULL, metric bigint NOT NULL,"
    " bucket bigint NOT NULL, n bigint NOT NULL, PRIMARY KEY(staff, metric, bucket));"
    "CREATE TABLE alerts(id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " created_at bigint NOT NULL, staff text NOT NULL, rule text NOT NULL,"
    " severity text NOT NULL, detail text NOT NULL, audit_index bigint, status text NOT NULL,"
    " acked_by text, acked_at bigint);"
    "CREATE INDEX alerts_open ON alerts(status, id);",
    /* 9: canary customers, by their keyed tag only */
    "CREATE TABLE canaries(tag bytea PRIMARY KEY);",
    /* 10: the detector's recent look-up neighbourhoods (keyed hashes) */
    "CREATE TABLE detect_recent(staff text NOT NULL, t bigint NOT NULL, key bytea NOT NULL);"
    "CREATE INDEX detect_recent_by_staff ON detect_recent(staff, t);",
    /* 11: a supervisor's co-sign of a case (step-up) */
    "ALTER TABLE cases ADD COLUMN cosigned_by text;"
    "ALTER TABLE cases ADD COLUMN cosign_until bigint NOT NULL DEFAULT 0;",
    /* 12: an alert's evidence: the audit indexes of the entries involved */
    "ALTER TABLE alerts ADD COLUMN evidence text;",
    /* 13: erased customers' tombstones: the id and when, nothing personal */
    "CREATE TABLE erased(customer_id text COLLATE \"C\" PRIMARY KEY,"
    " erased_at bigint NOT NULL);",
    /* 14: the customer portal: sign-in codes and sessions (keyed hashes
     * only), notice settings, pending access notices */
    "CREATE TABLE subject_codes(customer_id text PRIMARY KEY, hash bytea NOT NULL,"
    " sent_at bigint NOT NULL, expires_at bigint NOT NULL, tries bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE subject_sessions(token_hash bytea PRIMARY KEY, customer_id text NOT NULL,"
    " created_at bigint NOT NULL, expires_at bigint NOT NULL);"
    "CREATE INDEX subject_sessions_by_customer ON subject_sessions(customer_id);"
    "CREATE TABLE subject_prefs(customer_id text PRIMARY KEY, daily bigint NOT NULL);"
    "CREATE TABLE notices(audit_index bigint PRIMARY KEY, customer_id text NOT NULL,"
    " created_at bigint NOT NULL);"
    "CREATE INDEX notices_by_customer ON notices(customer_id, audit_index);",
    /* 15: customers' erasure requests, decided by an admin */
    "CREATE TABLE erasure_requests(id text COLLATE \"C\" PRIMARY KEY,"
    " customer_id text NOT NULL, status text NOT NULL, requested_at bigint NOT NULL,"
    " decided_by text, decided_at bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX erasure_requests_by_status ON erasure_requests(status, requested_at);",
    /* 16: look-up neighbourhoods get an id that grows in commit order (rows
     * are added in the audit commit, under the audit lock), so that
     * readers take only new rows */
    "ALTER TABLE detect_recent ADD COLUMN id bigserial;"
    "CREATE INDEX detect_recent_by_staff_id ON detect_recent(staff, id);",
    /* 17: outbox retention (store_outbox_expire) walks messages by age */
    "CREATE INDEX outbox_by_created ON outbox(created_at);",
};
#define SCHEMA_VERSION ((int)CU_ARRAY_LEN(migrations))

/* The tables store_scrub() vacuums: those an erase deletes from, and the
 * key-encryption keys (whose wrapped keys are wiped when they move to the
 * keyring). */
#define SCRUB_TABLES                                                                               \
    "customers, blind, outbox, subject_codes, subject_sessions, subject_prefs, notices, keks"
#define SCRUB_TABLE_LIST                                                                           \
    "'customers', 'blind', 'outbox', 'subject_codes', 'subject_sessions', 'subject_prefs',"        \
    " 'notices', 'keks'"

enum stmt_id {
    ST_AUDIT_LOCK,
    ST_META_GET,
    ST_META_SET,
    ST_KEK_LIST,
    ST_KEK_PUT,
    ST_CUSTOMER_INSERT,
    ST_CUSTOMER_LOOKUP,
    ST_CUSTOMER_UPDATE,
    ST_CUSTOMER_GET_CID,
    ST_CUSTOMER_GET_ID,
    ST_CUSTOMER_COUNT,
    ST_BLIND_FIND,
    ST_DEK_SCAN,
    ST_DEK_UPDATE,
    ST_KEK_USAGE,
    ST_KEK_HOLD,
    ST_AUDIT_MAX,
    ST_AUDIT_INSERT,
    ST_AUDIT_SCAN,
    ST_AUDIT_FIND_ALL,
    ST_AUDIT_FIND_TAIL,
    ST_AUDIT_FIND_INDEXED,
    ST_INDEX_WATERMARK,
    ST_INDEX_LOCK,
    ST_INDEX_RESET,
    ST_INDEX_INSERT,
    ST_INDEX_SET,
    ST_TILE_PUT,
    ST_TILE_GET,
    ST_CHECKPOINT_INSERT,
    ST_CHECKPOINT_GET,
    ST_CHECKPOINT_LATEST,
    ST_CHECKPOINT_SCAN,
    ST_STAFF_INSERT,
    ST_STAFF_UPDATE,
    ST_STAFF_GET,
    ST_STAFF_LOCK,
    ST_STAFF_LIST,
    ST_SESSION_PUT,
    ST_SESSION_GET,
    ST_SESSION_TOUCH,
    ST_SESSION_DELETE,
    ST_SESSION_DELETE_USER,
    ST_THROTTLE_GET,
    ST_THROTTLE_PUT,
    ST_CASE_INSERT,
    ST_CASE_UPDATE,
    ST_CASE_GET,
    ST_CASE_TRY,
    ST_CASE_LIST,
    ST_OUTBOX_ADD,
    ST_OUTBOX_SCAN,
    ST_OUTBOX_MARK,
    ST_OUTBOX_EXPIRE,
    ST_DETECT_ADD,
    ST_DETECT_ROWS,
    ST_DETECT_PRUNE,
    ST_ALERT_ADD,
    ST_ALERT_LIST,
    ST_ALERT_ACK,
    ST_CANARY_ADD,
    ST_CANARY_HAS,
    ST_RECENT_ADD,
    ST_RECENT_ROWS,
    ST_RECENT_PRUNE,
    ST_DETECT_PEERS,
    ST_DETECT_STORE_DAYS,
    ST_ERASE,
    ST_ERASED_GET,
    ST_ERASED_SCAN,
    ST_SCODE_PUT,
    ST_SCODE_GET,
    ST_SCODE_TRY,
    ST_SCODE_DELETE,
    ST_SSESSION_PUT,
    ST_SSESSION_GET,
    ST_SSESSION_DELETE,
    ST_SPREF_GET,
    ST_SPREF_PUT,
    ST_NOTICE_ADD,
    ST_NOTICE_SCAN,
    ST_NOTICE_DELETE,
    ST_ERASURE_PUT,
    ST_ERASURE_LIST,
    ST__COUNT
};

/*
 * A statement and its parameter types, one letter each: i bigint, t text,
 * b bytea, I bigint[], T text[], B bytea[].
 */
struct stmt_def {
    const char *sql;
    const char *types;
};

/* Customer insert: $1 customer_id, $2 kek_version, $3 dek_version, $4
 * dek, $5..$11 the sealed fields, $12 blind, $13 import_run, $14
 * created_at, $15 updated_at, $16/$17 the blind entries' kinds and hashes;
 * returns the new id, or no row when the customer id exists. */
#define CUSTOMER_TYPES "tiibbbbbbbbbiiiII"

static const struct stmt_def stmts[ST__COUNT] = {
    [ST_AUDIT_LOCK] = {"SELECT 1 FROM pg_advisory_xact_lock(" LOCK_KEY ","
                       " hashtext(current_schema() || ':audit'))",
                       ""},
    [ST_META_GET] = {"SELECT value FROM meta WHERE key = $1", "t"},
    [ST_META_SET] = {"INSERT INTO meta(key, value) VALUES($1, $2)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     "tt"},
    [ST_KEK_LIST] = {"SELECT version, state, wrapped, created_at FROM keks ORDER BY version", ""},
    [ST_KEK_PUT] = {"INSERT INTO keks(version, state, wrapped, created_at) VALUES($1, $2, $3, $4)"
                    " ON CONFLICT(version) DO UPDATE SET state = excluded.state,"
                    " wrapped = excluded.wrapped",
                    "iibi"},
    /* the new id (NULL when none: the id exists, or was erased) and
     * whether it was erased */
    [ST_CUSTOMER_INSERT] = {"WITH c AS (INSERT INTO customers(customer_id, kek_version,"
                            " dek_version, dek, " SEALED_COLS ", blind, import_run, created_at,"
                            " updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                            " $12, $13, $14, $15 WHERE NOT EXISTS (SELECT 1 FROM erased"
                            " WHERE customer_id = $1) ON CONFLICT(customer_id) DO NOTHING"
                            " RETURNING id),"
                            " b AS (INSERT INTO blind(kind, hash, customer) SELECT DISTINCT u.k,"
                            " u.h, c.id FROM c, unnest($16::bigint[], $17::bigint[]) AS u(k, h)"
                            " ON CONFLICT DO NOTHING)"
                            " SELECT (SELECT id FROM c),"
                            " EXISTS (SELECT 1 FROM erased WHERE customer_id = $1)",
                            CUSTOMER_TYPES},
    [ST_CUSTOMER_LOOKUP] = {"SELECT id, blind, created_at FROM customers WHERE customer_id = $1"
                            " FOR UPDATE",
                            "t"},
    /*
     * The whole replace in one statement: $1 customer_id, $2..$13 as the
     * insert's, $14 updated_at, $15/$16 the new blind entries.  The stored
     * row is locked; its blind entries that the new list lacks are deleted
     * and the new ones inserted (the kept ones conflict and stay: one
     * statement never deletes and inserts the same row).  Returns the row's
     * id and created_at, no row when there is no such customer.
     */
    [ST_CUSTOMER_UPDATE] = {"WITH o AS (SELECT id, created_at FROM customers"
                            " WHERE customer_id = $1 FOR UPDATE),"
                            " nb AS (SELECT DISTINCT u.k, u.h FROM unnest($15::bigint[],"
                            " $16::bigint[]) AS u(k, h)),"
                            " d AS (DELETE FROM blind b USING o WHERE b.customer = o.id"
                            " AND (b.kind, b.hash) NOT IN (SELECT k, h FROM nb)),"
                            " n AS (INSERT INTO blind(kind, hash, customer) SELECT nb.k, nb.h, o.id"
                            " FROM o, nb ON CONFLICT DO NOTHING),"
                            " up AS (UPDATE customers c SET kek_version = $2, dek_version = $3,"
                            " dek = $4, account = $5, name = $6, phone = $7, email = $8,"
                            " address = $9, birth_date = $10, devices = $11, blind = $12,"
                            " import_run = $13, updated_at = $14 FROM o WHERE c.id = o.id)"
                            " SELECT id, created_at FROM o",
                            "tiibbbbbbbbbiiII"},
    [ST_CUSTOMER_GET_CID] = {"SELECT " CUSTOMER_COLS " FROM customers WHERE customer_id = $1", "t"},
    [ST_CUSTOMER_GET_ID] = {"SELECT " CUSTOMER_COLS " FROM customers WHERE id = $1", "i"},
    [ST_CUSTOMER_COUNT] = {"SELECT count(*) FROM customers", ""},
    [ST_BLIND_FIND] = {"SELECT customer FROM blind WHERE kind = $1 AND hash = $2"
                       " ORDER BY customer LIMIT $3",
                       "iii"},
    /* FOR UPDATE: a re-import that replaces one of these customers (a new
     * data key) waits for the rotation's commit, rather than being
     * overwritten by the old key it re-wraps */
    [ST_DEK_SCAN] = {"SELECT id, customer_id, kek_version, dek FROM customers"
                     " WHERE id > $1 AND kek_version <> $2 ORDER BY id LIMIT $3 FOR UPDATE",
                     "iii"},
    [ST_DEK_UPDATE] = {"UPDATE customers SET kek_version = $1, dek = $2 WHERE id = $3", "ibi"},
    [ST_KEK_USAGE] = {"SELECT count(*) FROM customers WHERE kek_version = $1", "i"},
    [ST_KEK_HOLD] = {"SELECT version FROM keks WHERE state = $1 FOR SHARE", "i"},
    [ST_AUDIT_MAX] = {"SELECT max(idx) FROM audit_entries", ""},
    [ST_AUDIT_INSERT] = {"INSERT INTO audit_entries(idx, time_ms, actor, subject, leaf)"
                         " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[],"
                         " $4::bytea[], $5::bytea[])",
                         "IITBB"},
    [ST_AUDIT_SCAN] = {"SELECT " AUDIT_COLS " FROM audit_entries WHERE idx >= $1 AND idx < $2"
                       " ORDER BY idx LIMIT $3",
                       "iii"},
    [ST_AUDIT_FIND_ALL] = {"SELECT " AUDIT_COLS " FROM audit_entries ORDER BY idx DESC LIMIT $1",
                           "i"},
    /* $1 actor or NULL, $2 subject or NULL, $3 limit, $4 the first entry
     * not indexed: the tail, scanned */
    [ST_AUDIT_FIND_TAIL] = {"SELECT " AUDIT_COLS " FROM audit_entries WHERE idx >= $4"
                            " AND ($1::text IS NULL OR actor = $1)"
                            " AND ($2::bytea IS NULL OR subject = $2)"
                            " ORDER BY idx DESC LIMIT $3",
                            "tbii"},
    /* $1 key, $2 the first entry not indexed, $3 actor or NULL (checked
     * when the key is a subject's), $4 limit */
    [ST_AUDIT_FIND_INDEXED] = {"SELECT e.idx, e.time_ms, e.actor, e.subject, e.leaf"
                               " FROM audit_index x JOIN audit_entries e ON e.idx = x.idx"
                               " WHERE x.key = $1 AND x.idx < $2"
                               " AND ($3::text IS NULL OR e.actor = $3)"
                               " ORDER BY x.idx DESC LIMIT $4",
                               "bit"
                               "i"},
    [ST_INDEX_WATERMARK] = {"SELECT indexed FROM audit_index_state WHERE id = 1", ""},
    [ST_INDEX_LOCK] = {"SELECT indexed FROM audit_index_state WHERE id = 1 FOR UPDATE", ""},
    [ST_INDEX_RESET] = {"DELETE FROM audit_index", ""},
    [ST_INDEX_INSERT] = {"INSERT INTO audit_index(key, idx) SELECT * FROM unnest($1::bytea[],"
                         " $2::bigint[]) ON CONFLICT DO NOTHING",
                         "BI"},
    [ST_INDEX_SET] = {"UPDATE audit_index_state SET indexed = $1 WHERE id = 1", "i"},
    [ST_TILE_PUT] = {"INSERT INTO audit_tiles(level, idx, hashes) VALUES($1, $2, $3)"
                     " ON CONFLICT(level, idx) DO UPDATE SET hashes = excluded.hashes",
                     "iib"},
    [ST_TILE_GET] = {"SELECT hashes FROM audit_tiles WHERE level = $1 AND idx = $2", "ii"},
    [ST_CHECKPOINT_INSERT] = {"INSERT INTO audit_checkpoints(size, note) VALUES($1, $2)"
                              " ON CONFLICT(size) DO NOTHING",
                              "it"},
    [ST_CHECKPOINT_GET] = {"SELECT note FROM audit_checkpoints WHERE size = $1", "i"},
    [ST_CHECKPOINT_LATEST] = {"SELECT size, note FROM audit_checkpoints ORDER BY size DESC"
                              " LIMIT 1",
                              ""},
    [ST_CHECKPOINT_SCAN] = {"SELECT size, note FROM audit_checkpoints WHERE size > $1"
                            " ORDER BY size LIMIT $2",
                            "ii"},
    /* staff: $1 username ... $12 updated_at, in STAFF_COLS order */
    [ST_STAFF_INSERT] = {"INSERT INTO staff(" STAFF_COLS ")"
                         " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                         " ON CONFLICT(username) DO NOTHING",
                         "ttttbiiiiiii"},
    [ST_STAFF_UPDATE] = {"UPDATE staff SET role = $2, store = $3, password = $4, totp = $5,"
                         " totp_last_step = $6, must_change = $7, suspended = $8,"
                         " failed_logins = $9, locked_until = $10, updated_at = $12"
                         " WHERE username = $1",
                         "ttttbiiiiiii"},
    [ST_STAFF_GET] = {"SELECT " STAFF_COLS " FROM staff WHERE username = $1", "t"},
    [ST_STAFF_LOCK] = {"SELECT " STAFF_COLS " FROM staff WHERE username = $1 FOR UPDATE", "t"},
    [ST_STAFF_LIST] = {"SELECT " STAFF_COLS " FROM staff ORDER BY username", ""},
    [ST_SESSION_PUT] = {"INSERT INTO sessions(token_hash, username, created_at, last_seen,"
                        " expires_at) VALUES($1, $2, $3, $4, $5)",
                        "btiii"},
    /* the account's columns first (staff_row), then the session's */
    [ST_SESSION_GET] = {"SELECT " STAFF_COLS ", s_created, s_seen, s_expires FROM staff"
                        " JOIN (SELECT username AS s_user, created_at AS s_created,"
                        " last_seen AS s_seen, expires_at AS s_expires FROM sessions"
                        " WHERE token_hash = $1) AS s ON username = s_user",
                        "b"},
    [ST_SESSION_TOUCH] = {"UPDATE sessions SET last_seen = $2 WHERE token_hash = $1", "bi"},
    [ST_SESSION_DELETE] = {"DELETE FROM sessions WHERE token_hash = $1", "b"},
    [ST_SESSION_DELETE_USER] = {"DELETE FROM sessions WHERE username = $1", "t"},
    [ST_THROTTLE_GET] = {"SELECT failures, window_start, locked_until FROM login_throttle"
                         " WHERE client = $1",
                         "t"},
    [ST_THROTTLE_PUT] = {"INSERT INTO login_throttle(client, failures, window_start,"
                         " locked_until) VALUES($1, $2, $3, $4) ON CONFLICT(client) DO UPDATE"
                         " SET failures = excluded.failures,"
                         " window_start = excluded.window_start,"
                         " locked_until = excluded.locked_until",
                         "tiii"},
    /* cases: $1 id ... $17 cosign_until, in CASE_COLS order */
    [ST_CASE_INSERT] = {"INSERT INTO cases(" CASE_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7,"
                        " $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                        " ON CONFLICT(id) DO NOTHING",
                        "tttttttttbiiiiiti"},
    /* $1 id, $2 status, $3 approver, $4 code_hash, $5 code_expires_at,
     * $6 code_tries, $7 updated_at, $8 cosigned_by, $9 cosign_until */
    [ST_CASE_UPDATE] = {"UPDATE cases SET status = $2, approver = $3, code_hash = $4,"
                        " code_expires_at = $5, code_tries = $6, updated_at = $7,"
                        " cosigned_by = $8, cosign_until = $9 WHERE id = $1",
                        "tttbiiiti"},
    [ST_CASE_GET] = {"SELECT " CASE_COLS " FROM cases WHERE id = $1", "t"},
    [ST_CASE_TRY] = {"UPDATE cases SET code_tries = code_tries + 1"
                     " WHERE id = $1 AND code_tries < $2 RETURNING code_tries",
                     "ti"},
    [ST_CASE_LIST] = {"SELECT " CASE_COLS " FROM cases WHERE status = $1"
                      " ORDER BY created_at, id COLLATE \"C\" LIMIT $2",
                      "ti"},
    /* $1..$10 OUTBOX_COLS but the id */
    [ST_OUTBOX_ADD] = {"INSERT INTO outbox(customer_id, case_id, channel, sealed, status,"
                       " attempts, next_attempt_at, last_error, created_at, delivered_at)"
                       " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                       "tttbtiitii"},
    /* $1 after id, $2 due (0: every message), $3 limit */
    [ST_OUTBOX_SCAN] = {"SELECT " OUTBOX_COLS " FROM outbox WHERE id > $1"
                        " AND ($2 = 0 OR (status = 'pending' AND next_attempt_at <= $2))"
                        " ORDER BY id LIMIT $3",
                        "iii"},
    /* $1 id, $2 status, $3 attempts, $4 next_attempt_at, $5 last_error,
     * $6 delivered_at */
    [ST_OUTBOX_MARK] = {"UPDATE outbox SET status = $2, attempts = $3, next_attempt_at = $4,"
                        " last_error = $5, delivered_at = $6 WHERE id = $1",
                        "itiiti"},
    /* $1 created before, $2 limit: oldest first, never a pending one */
    [ST_OUTBOX_EXPIRE] = {"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                          " WHERE created_at < $1 AND status <> 'pending'"
                          " ORDER BY created_at LIMIT $2)",
                          "ii"},
    /* a batch of counters, summed first (one command may not update a row
     * twice) */
    [ST_DETECT_ADD] = {"INSERT INTO detect_counts(staff, metric, bucket, n)"
                       " SELECT s, m, b, sum(n)::bigint FROM unnest($1::text[], $2::bigint[],"
                       " $3::bigint[], $4::bigint[]) AS u(s, m, b, n) GROUP BY s, m, b"
                       " ON CONFLICT(staff, metric, bucket) DO UPDATE"
                       " SET n = detect_counts.n + excluded.n",
                       "TIII"},
    [ST_DETECT_ROWS] = {"SELECT metric, bucket, n FROM detect_counts WHERE staff = $1"
                        " ORDER BY metric, bucket",
                        "t"},
    /* metric % 4: the bucket size (minute, hour, day); $2..$4 the first kept */
    [ST_DETECT_PRUNE] = {"DELETE FROM detect_counts WHERE staff = $1 AND ("
                         "(metric % 4 = 0 AND bucket < $2) OR (metric % 4 = 1 AND bucket < $3) OR"
                         " (metric % 4 = 2 AND bucket < $4))",
                         "tiii"},
    [ST_ALERT_ADD] = {"INSERT INTO alerts(created_at, staff, rule, severity, detail, audit_index,"
                      " status, evidence) VALUES($1, $2, $3, $4, $5, $6, 'open', $7)"
                      " RETURNING id",
                      "ittttit"},
    [ST_ALERT_LIST] = {"SELECT id, created_at, staff, rule, severity, detail, audit_index,"
                       " status, acked_by, acked_at, evidence FROM alerts"
                       " WHERE $1::text IS NULL OR status = $1 ORDER BY id DESC LIMIT $2",
                       "ti"},
    [ST_ALERT_ACK] = {"UPDATE alerts SET status = 'acked', acked_by = $2, acked_at = $3"
                      " WHERE id = $1 AND status = 'open'",
                      "iti"},
    [ST_CANARY_ADD] = {"INSERT INTO canaries(tag) VALUES($1) ON CONFLICT DO NOTHING", "b"},
    [ST_CANARY_HAS] = {"SELECT 1 FROM canaries WHERE tag = $1", "b"},
    [ST_RECENT_ADD] = {"INSERT INTO detect_recent(staff, t, key) SELECT s, t, k"
                       " FROM unnest($1::text[], $2::bigint[], $3::bytea[]) WITH ORDINALITY"
                       " AS u(s, t, k, o) ORDER BY o",
                       "TIB"},
    [ST_RECENT_ROWS] = {"SELECT id, t, key FROM (SELECT id, t, key FROM detect_recent"
                        " WHERE staff = $1 AND id > $2 AND t >= $3 ORDER BY id DESC LIMIT $4) r"
                        " ORDER BY id",
                        "tiii"},
    [ST_RECENT_PRUNE] = {"DELETE FROM detect_recent WHERE staff = $1 AND t < $2", "ti"},
    [ST_DETECT_PEERS] = {"SELECT s.username, coalesce(c.n, 0) FROM staff s"
                         " LEFT JOIN detect_counts c ON c.staff = s.username AND c.metric = $3"
                         " AND c.bucket = $4 WHERE s.role = $1 AND s.store = $2"
                         " AND s.suspended = 0 ORDER BY s.username",
                         "ttii"},
    [ST_DETECT_STORE_DAYS] = {"SELECT c.bucket, sum(c.n)::bigint FROM detect_counts c"
                              " JOIN staff s ON s.username = c.staff WHERE s.store = $1"
                              " AND c.metric = $2 AND c.bucket >= $3 GROUP BY c.bucket"
                              " ORDER BY c.bucket",
                              "tii"},
    /* $1 customer_id, $2 erased_at, $3 the row's id; returns the blind
     * entries, messages and cases it touched */
    [ST_ERASE] = {"WITH bl AS (DELETE FROM blind WHERE customer = $3 RETURNING 1),"
                  " cu AS (DELETE FROM customers WHERE id = $3),"
                  " ob AS (DELETE FROM outbox WHERE customer_id = $1 RETURNING 1),"
                  " sc AS (DELETE FROM subject_codes WHERE customer_id = $1),"
                  " ss AS (DELETE FROM subject_sessions WHERE customer_id = $1),"
                  " sp AS (DELETE FROM subject_prefs WHERE customer_id = $1),"
                  " nt AS (DELETE FROM notices WHERE customer_id = $1),"
                  " ca AS (UPDATE cases SET status = 'closed', updated_at = $2"
                  " WHERE customer_id = $1 AND status <> 'closed' RETURNING 1),"
                  " er AS (INSERT INTO erased(customer_id, erased_at) VALUES($1, $2)"
                  " ON CONFLICT(customer_id) DO UPDATE SET erased_at = excluded.erased_at)"
                  " SELECT (SELECT count(*) FROM bl), (SELECT count(*) FROM ob),"
                  " (SELECT count(*) FROM ca)",
                  "tii"},
    [ST_ERASED_GET] = {"SELECT erased_at FROM erased WHERE customer_id = $1", "t"},
    [ST_ERASED_SCAN] = {"SELECT customer_id FROM erased WHERE customer_id > $1"
                        " ORDER BY customer_id LIMIT $2",
                        "ti"},
    [ST_SCODE_PUT] = {"INSERT INTO subject_codes(customer_id, hash, sent_at, expires_at, tries)"
                      " VALUES($1, $2, $3, $4, 0) ON CONFLICT(customer_id) DO UPDATE SET"
                      " hash = excluded.hash, sent_at = excluded.sent_at,"
                      " expires_at = excluded.expires_at, tries = 0",
                      "tbii"},
    [ST_SCODE_GET] = {"SELECT hash, sent_at, expires_at, tries FROM subject_codes"
                      " WHERE customer_id = $1",
                      "t"},
    [ST_SCODE_TRY] = {"UPDATE subject_codes SET tries = tries + 1 WHERE customer_id = $1"
                      " AND tries < $2 RETURNING hash, sent_at, expires_at, tries",
                      "ti"},
    [ST_SCODE_DELETE] = {"DELETE FROM subject_codes WHERE customer_id = $1", "t"},
    [ST_SSESSION_PUT] = {"INSERT INTO subject_sessions(token_hash, customer_id, created_at,"
                         " expires_at) VALUES($1, $2, $3, $4)",
                         "btii"},
    [ST_SSESSION_GET] = {"SELECT customer_id, expires_at FROM subject_sessions"
                         " WHERE token_hash = $1",
                         "b"},
    [ST_SSESSION_DELETE] = {"DELETE FROM subject_sessions WHERE token_hash = $1", "b"},
    [ST_SPREF_GET] = {"SELECT daily FROM subject_prefs WHERE customer_id = $1", "t"},
    [ST_SPREF_PUT] = {"INSERT INTO subject_prefs(customer_id, daily) VALUES($1, $2)"
                      " ON CONFLICT(customer_id) DO UPDATE SET daily = excluded.daily",
                      "ti"},
    [ST_NOTICE_ADD] = {"INSERT INTO notices(audit_index, customer_id, created_at)"
                       " SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])"
                       " ON CONFLICT DO NOTHING",
                       "ITI"},
    /* $3 NULL: every customer's */
    [ST_NOTICE_SCAN] = {"SELECT audit_index, customer_id, created_at FROM notices"
                        " WHERE audit_index >= $1 AND ($3::text IS NULL OR customer_id = $3)"
                        " ORDER BY audit_index LIMIT $2",
                        "iit"},
    [ST_NOTICE_DELETE] = {"DELETE FROM notices WHERE audit_index = $1", "i"},
    [ST_ERASURE_PUT] = {"INSERT INTO erasure_requests(id, customer_id, status, requested_at,"
                        " decided_by, decided_at) VALUES($1, $2, $3, $4, $5, $6)"
                        " ON CONFLICT(id) DO UPDATE SET status = excluded.status,"
                        " decided_by = excluded.decided_by, decided_at = excluded.decided_at",
                        "tttiti"},
    /* by id ($1), else by status ($2, NULL: any) and customer ($3) */
    [ST_ERASURE_LIST] = {"SELECT id, customer_id, status, requested_at, decided_by, decided_at"
                         " FROM erasure_requests WHERE ($1::text IS NULL OR id = $1)"
                         " AND ($2::text IS NULL OR status = $2)"
                         " AND ($3::text IS NULL OR customer_id = $3)"
                         " ORDER BY requested_at, id",
                         "ttt"},
};

/* ---- parameters ---- */

#define MAX_PARAMS 20

/* The parameters of one statement; values point at the caller's buffers
 * or at `num`. */
struct params {
    int n;
    const char *val[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    unsigned char num[MAX_PARAMS][8];
};

static void be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void be64_put(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t be_get(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The uint64 as a signed 64-bit integer (two's complement, without
 * relying on implementation-defined conversion), and back. */
static int64_t u64_to_i64(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

static int64_t u64_clamp(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void p_init(struct params *p)
{
    p->n = 0;
}

static void p_i64(struct params *p, int64_t v)
{
    be64_put(p->num[p->n], (uint64_t)v);
    p->val[p->n] = (const char *)p->num[p->n];
    p->len[p->n] = 8;
    p->fmt[p->n] = 1;
    p->n++;
}

/* Text (NULL: SQL NULL). */
static void p_text(struct params *p, const char *s)
{
    p->val[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* Bytes; an empty value is an empty bytea, not NULL. */
static void p_bytes(struct params *p, const void *d, size_t len)
{
    p->val[p->n] = len ? d : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

/* Bytes, NULL when empty or absent. */
static void p_bytes_or_null(struct params *p, const void *d, size_t len)
{
    if (d == NULL || len == 0) {
        p->val[p->n] = NULL;
        p->len[p->n] = 0;
        p->fmt[p->n] = 1;
        p->n++;
        return;
    }
    p_bytes(p, d, len);
}

static void p_buf(struct params *p, const struct buf *b, int null_if_empty)
{
    if (null_if_empty)
        p_bytes_or_null(p, b->data, b->len);
    else
        p_bytes(p, b->data, b->len);
}

/*
 * A one-dimensional array parameter in PostgreSQL's binary format: a
 * header (dimensions, null flag, element type, length, lower bound), then
 * each element as a 4-byte length (-1: NULL) and its bytes.
 */
struct pgarray {
    struct buf b;
    uint32_t n;
    int hasnull;
};

#define ARRAY_HEADER 20

static void arr_begin(struct pgarray *a, uint32_t elem_oid)
{
    unsigned char h[ARRAY_HEADER];

    buf_reset(&a->b);
    be32_put(h, 1);
    be32_put(h + 4, 0);
    be32_put(h + 8, elem_oid);
    be32_put(h + 12, 0);
    be32_put(h + 16, 1);
    buf_add(&a->b, h, sizeof(h));
    a->n = 0;
    a->hasnull = 0;
}

static void arr_i64(struct pgarray *a, int64_t v)
{
    unsigned char e[12];

    be32_put(e, 8);
    be64_put(e + 4, (uint64_t)v);
    buf_add(&a->b, e, sizeof(e));
    a->n++;
}

/* NULL d: a NULL element. */
static void arr_bytes(struct pgarray *a, const void *d, size_t len)
{
    unsigned char e[4];

    if (d == NULL) {
        be32_put(e, UINT32_MAX);
        a->hasnull = 1;
        buf_add(&a->b, e, 4);
    } else {
        be32_put(e, (uint32_t)len);
        buf_add(&a->b, e, 4);
        buf_add(&a->b, d, len);
    }
    a->n++;
}

static void arr_text(struct pgarray *a, const char *s)
{
    arr_bytes(a, s, s ? strlen(s) : 0);
}

/* Finishes the header; an empty array has no dimension. */
static void arr_end(struct pgarray *a)
{
    unsigned char *h = (unsigned char *)a->b.data;

    if (a->n == 0) {
        be32_put(h, 0);
        a->b.len = 12;
        return;
    }
    be32_put(h + 4, a->hasnull ? 1 : 0);
    be32_put(h + 12, a->n);
}

static void p_array(struct params *p, const struct pgarray *a)
{
    p_bytes(p, a->b.data, a->b.len);
}

/* ---- the handle ---- */

struct store_pg {
    struct store base; /* first member: store_int.h */
    PGconn *conn;
    char *where; /* "host:port/database", for messages (no password) */
    int version;
    unsigned char prepared[ST__COUNT]; /* prepared on this connection */
    int txn;                           /* a caller's transaction is open (store_begin) */
    int own;                           /* an operation's own transaction is open */
    int lost;                          /* the connection was lost inside the caller's transaction */
    int relaxed;                       /* store_commits_relaxed: set again on a new connection */
    /* The audit log's size in the open transaction, valid while
     * audit_size_known: read once the audit lock is held (the first
     * audit_size or audit_append of the transaction), advanced by each
     * append, forgotten when the transaction ends. */
    uint64_t audit_size;
    int audit_size_known;
    struct buf blind_enc;      /* the encoded blind list of the customer being written */
    struct store_customer old; /* replace and erase: the stored row's blind list */
    struct pgarray a1, a2, a3, a4, a5;
};

static struct store_pg *pg(struct store *s)
{
    return (struct store_pg *)s;
}

static int in_tx(const struct store_pg *h)
{
    return h->txn || h->own;
}

/* Appends `msg` to `out` on one line: newlines and tabs become spaces,
 * runs of them one space, no trailing space. */
static void one_line(struct buf *out, const char *msg)
{
    int space = 0;

    for (; msg != NULL && *msg != '\0'; msg++) {
        if (*msg == '\n' || *msg == '\t' || *msg == '\r' || *msg == ' ') {
            space = out->len > 0;
            continue;
        }
        if (space)
            buf_addch(out, ' ');
        space = 0;
        buf_addch(out, *msg);
    }
}

/* A connection-level failure (libpq's message, on one line). */
static int conn_fail(struct store_pg *h, char **errmsg, const char *what)
{
    struct buf m = BUF_INIT;
    int rc;

    one_line(&m, h->conn ? PQerrorMessage(h->conn) : "out of memory");
    rc = cu_errf(errmsg, CU_ERR_STORE, "store: %s: %s (postgresql at %s)", what,
                 m.len ? m.data : "connection failed", h->where);
    buf_release(&m);
    return rc;
}

/* A statement that failed: the primary message only (the DETAIL line may
 * quote a row's values). */
static int res_fail(struct store_pg *h, const PGresult *res, char **errmsg, const char *what)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    struct buf m = BUF_INIT;
    int rc;

    if (primary == NULL || PQstatus(h->conn) == CONNECTION_BAD)
        return conn_fail(h, errmsg, what);
    one_line(&m, primary);
    rc = cu_errf(errmsg, CU_ERR_STORE, "store: %s: %s", what, m.data);
    buf_release(&m);
    return rc;
}

/*
 * Makes sure the connection is up.  A lost connection is reset (a new
 * one, the prepared statements forgotten) only outside a transaction:
 * inside one, the transaction is gone with the connection, and the caller
 * must see it fail.
 */
static int conn_ready(struct store_pg *h, const char *what, char **errmsg)
{
    if (PQstatus(h->conn) == CONNECTION_OK && !h->lost)
        return CU_OK;
    if (in_tx(h)) {
        h->lost = h->txn;
        return cu_errf(errmsg, CU_ERR_STORE,
                       "store: %s: the connection to postgresql at %s was lost during the "
                       "transaction (rolled back)",
                       what, h->where);
    }
    PQreset(h->conn);
    memset(h->prepared, 0, sizeof(h->prepared));
    if (PQstatus(h->conn) != CONNECTION_OK)
        return conn_fail(h, errmsg, what);
    if (h->relaxed) {
        PGresult *res = PQexec(h->conn, RELAX_SQL);
        ExecStatusType st = PQresultStatus(res);

        if (st != PGRES_COMMAND_OK) {
            int rc = res_fail(h, res, errmsg, what);

            PQclear(res);
            return rc;
        }
        PQclear(res);
    }
    return CU_OK;
}

/* After a failed statement: is it worth one retry on a new connection? */
static int may_retry(struct store_pg *h, int attempt)
{
    if (PQstatus(h->conn) != CONNECTION_BAD)
        return 0;
    if (in_tx(h)) {
        h->lost = h->txn;
        return 0;
    }
    return attempt == 0;
}

static int stmt_prepare(struct store_pg *h, enum stmt_id id, const char *what, char **errmsg)
{
    Oid types[MAX_PARAMS];
    const char *t = stmts[id].types;
    char name[16];
    PGresult *res;
    int n, rc = CU_OK;

    if (h->prepared[id])
        return CU_OK;
    for (n = 0; t[n] != '\0'; n++) {
        switch (t[n]) {
        case 'i':
            types[n] = OID_INT8;
            break;
        case 't':
            types[n] = OID_TEXT;
            break;
        case 'b':
            types[n] = OID_BYTEA;
            break;
        case 'I':
            types[n] = OID_INT8_ARRAY;
            break;
        case 'T':
            types[n] = OID_TEXT_ARRAY;
            break;
        default:
            types[n] = OID_BYTEA_ARRAY;
        }
    }
    snprintf(name, sizeof(name), "cu%d", (int)id);
    res = PQprepare(h->conn, name, stmts[id].sql, n, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = res_fail(h, res, errmsg, what);
    else
        h->prepared[id] = 1;
    PQclear(res);
    return rc;
}

/*
 * Runs the prepared statement `id` with `p` (NULL: none).  On success
 * *out (if not NULL) is the result, which the caller PQclear()s; binary
 * columns.  A lost connection outside a transaction is retried once.
 */
static int stmt_exec(struct store_pg *h, enum stmt_id id, const struct params *p, PGresult **out,
                     const char *what, char **errmsg)
{
    ExecStatusType st;
    PGresult *res;
    char name[16], *err;
    int attempt, rc;

    if (out != NULL)
        *out = NULL;
    snprintf(name, sizeof(name), "cu%d", (int)id);
    for (attempt = 0;; attempt++) {
        err = NULL;
        rc = conn_ready(h, what, &err);
        if (rc == CU_OK)
            rc = stmt_prepare(h, id, what, &err);
        if (rc == CU_OK) {
            res = PQexecPrepared(h->conn, name, p ? p->n : 0, p ? p->val : NULL, p ? p->len : NULL,
                                 p ? p->fmt : NULL, 1);
            st = PQresultStatus(res);
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                if (out != NULL)
                    *out = res;
                else
                    PQclear(res);
                return CU_OK;
            }
            rc = res_fail(h, res, &err, what);
            PQclear(res);
        }
        if (!may_retry(h, attempt)) {
            cu_errf(errmsg, rc, "%s", err ? err : "store: failed");
            free(err);
            return rc;
        }
        free(err);
    }
}

/* Runs the statement and discards its result; *changed (when not NULL)
 * gets the number of rows it changed. */
static int stmt_run(struct store_pg *h, enum stmt_id id, const struct params *p, int64_t *changed,
                    const char *what, char **errmsg)
{
    PGresult *res;
    int rc = stmt_exec(h, id, p, &res, what, errmsg);

    if (rc == CU_OK) {
        if (changed != NULL)
            *changed = strtoll(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    return rc;
}

/*
 * Runs a parameterless command through the simple protocol (transaction
 * control, DDL, VACUUM).  BEGIN is retried once on a new connection like
 * any statement outside a transaction.  *status (when not NULL) gets the
 * command tag's first word ("COMMIT" or "ROLLBACK" for a COMMIT).
 */
static int exec_simple(struct store_pg *h, const char *sql, char *status, size_t status_len,
                       const char *what, char **errmsg)
{
    ExecStatusType st;
    PGresult *res;
    char *err;
    int attempt, rc;

    for (attempt = 0;; attempt++) {
        err = NULL;
        rc = conn_ready(h, what, &err);
        if (rc == CU_OK) {
            res = PQexec(h->conn, sql);
            st = PQresultStatus(res);
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                if (status != NULL)
                    snprintf(status, status_len, "%s", PQcmdStatus(res));
                PQclear(res);
                return CU_OK;
            }
            rc = res_fail(h, res, &err, what);
            PQclear(res);
        }
        if (!may_retry(h, attempt)) {
            cu_errf(errmsg, rc, "%s", err ? err : "store: failed");
            free(err);
            return rc;
        }
        free(err);
    }
}

/* ---- result columns (binary format) ---- */

static int col_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);

    if (PQgetisnull(r, row, col))
        return 0;
    switch (PQftype(r, col)) {
    case OID_INT8:
        return u64_to_i64(be_get(p, 8));
    case OID_INT4:
        return (int32_t)(uint32_t)be_get(p, 4);
    case OID_INT2:
        return (int16_t)(uint16_t)be_get(p, 2);
    case OID_BOOL:
        return p[0] != 0;
    default:
        return 0;
    }
}

/* Text (binary format is the bytes, NUL-terminated by libpq); NULL when
 * the column is NULL. */
static const char *col_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static char *col_strdup(const PGresult *r, int row, int col)
{
    const char *t = col_text(r, row, col);

    return xstrdup(t ? t : "");
}

static char *col_strdup_or_null(const PGresult *r, int row, int col)
{
    const char *t = col_text(r, row, col);

    return t ? xstrdup(t) : NULL;
}

/* Bytes; NULL (and *len 0) when the column is NULL. */
static const void *col_bytes(const PGresult *r, int row, int col, size_t *len)
{
    if (PQgetisnull(r, row, col)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)PQgetlength(r, row, col);
    return PQgetvalue(r, row, col);
}

static void col_buf(const PGresult *r, int row, int col, struct buf *out)
{
    size_t len;
    const void *p = col_bytes(r, row, col, &len);

    if (p != NULL)
        buf_add(out, p, len);
}

/* ---- scopes and transactions ---- */

/*
 * Atomic scope of a multi-statement operation: a savepoint inside the
 * caller's transaction, or a transaction of its own.  scope_end() releases
 * or commits on rc == CU_OK, and otherwise undoes everything the operation
 * wrote (and nothing the caller wrote before it); it returns the final rc.
 */
enum scope { SCOPE_SAVEPOINT, SCOPE_TRANSACTION };

/* COMMIT; a transaction PostgreSQL had already failed answers ROLLBACK. */
static int commit_exec(struct store_pg *h, const char *what, char **errmsg)
{
    char status[16] = "";
    int rc = exec_simple(h, "COMMIT", status, sizeof(status), what, errmsg);

    if (rc == CU_OK && strcmp(status, "COMMIT") != 0)
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: %s: the transaction had failed and was rolled back", what);
    return rc;
}

static int scope_begin(struct store_pg *h, enum scope *scope, const char *what, char **errmsg)
{
    int rc;

    if (h->txn) {
        *scope = SCOPE_SAVEPOINT;
        return exec_simple(h, "SAVEPOINT store_op", NULL, 0, what, errmsg);
    }
    *scope = SCOPE_TRANSACTION;
    rc = exec_simple(h, "BEGIN", NULL, 0, what, errmsg);
    if (rc == CU_OK)
        h->own = 1;
    return rc;
}

static int scope_end(struct store_pg *h, enum scope scope, int rc, const char *what, char **errmsg)
{
    if (scope == SCOPE_SAVEPOINT) {
        if (rc == CU_OK) {
            rc = exec_simple(h, "RELEASE SAVEPOINT store_op", NULL, 0, what, errmsg);
            if (rc == CU_OK)
                return CU_OK;
        }
        if (PQstatus(h->conn) == CONNECTION_OK &&
            exec_simple(h, "ROLLBACK TO SAVEPOINT store_op", NULL, 0, what, NULL) == CU_OK)
            (void)exec_simple(h, "RELEASE SAVEPOINT store_op", NULL, 0, what, NULL);
        return rc;
    }
    if (rc == CU_OK)
        rc = commit_exec(h, what, errmsg);
    else if (PQstatus(h->conn) == CONNECTION_OK)
        (void)exec_simple(h, "ROLLBACK", NULL, 0, what, NULL);
    h->own = 0;
    return rc;
}

static int pgs_commits_relaxed(struct store *s, char **errmsg)
{
    struct store_pg *h = pg(s);
    int rc = exec_simple(h, RELAX_SQL, NULL, 0, "relax commits", errmsg);

    if (rc == CU_OK)
        h->relaxed = 1;
    return rc;
}

static int pgs_begin(struct store *s, char **errmsg)
{
    struct store_pg *h = pg(s);
    int rc;

    if (h->txn)
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: begin: a transaction is already open");
    h->audit_size_known = 0;
    h->lost = 0;
    rc = exec_simple(h, "BEGIN", NULL, 0, "begin transaction", errmsg);
    if (rc == CU_OK)
        h->txn = 1;
    return rc;
}

static int pgs_commit(struct store *s, char **errmsg)
{
    struct store_pg *h = pg(s);
    int rc;

    if (!h->txn)
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: commit: no transaction is open");
    if (h->lost) {
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: commit: the connection to postgresql at %s was lost during the "
                     "transaction (rolled back)",
                     h->where);
    } else {
        rc = commit_exec(h, "commit", errmsg);
    }
    /* Whatever the outcome, PostgreSQL has ended the transaction. */
    h->txn = 0;
    h->lost = 0;
    h->audit_size_known = 0;
    return rc;
}

static void pgs_rollback(struct store *s)
{
    struct store_pg *h = pg(s);

    if (h->txn && !h->lost && PQstatus(h->conn) == CONNECTION_OK)
        (void)exec_simple(h, "ROLLBACK", NULL, 0, "rollback", NULL);
    h->txn = 0;
    h->lost = 0;
    h->audit_size_known = 0;
}

/* ---- lifecycle ---- */

static void pgs_free(struct store *s)
{
    struct store_pg *h = pg(s);

    /* Closing the connection rolls back a transaction left open. */
    PQfinish(h->conn);
    free(h->where);
    buf_release(&h->blind_enc);
    store_customer_release(&h->old);
    buf_release(&h->a1.b);
    buf_release(&h->a2.b);
    buf_release(&h->a3.b);
    buf_release(&h->a4.b);
    buf_release(&h->a5.b);
    free(h);
}

static int pgs_schema_version(struct store *s)
{
    return pg(s)->version;
}

/*
 * "host:port/database" from the URL's settings (never the password), or
 * NULL when libpq cannot parse the URL.
 */
static char *describe_url(const char *url)
{
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL, *user = NULL;
    PQconninfoOption *opts, *o;
    char *out;

    opts = PQconninfoParse(url, NULL);
    if (opts == NULL)
        return NULL;
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
    }
    out = xasprintf("%s:%s/%s",
                    host       ? host
                    : hostaddr ? hostaddr
                               : "localhost",
                    port ? port : "5432",
                    db     ? db
                    : user ? user
                           : "(default database)");
    PQconninfoFree(opts);
    return out;
}

/* Runs a one-row query through the simple protocol (text results) and
 * copies up to n columns of its first row into vals (NULL for SQL NULL,
 * all NULL when no row); the caller frees them. */
static int query_row(struct store_pg *h, const char *sql, char **vals, int n, const char *what,
                     char **errmsg)
{
    PGresult *res;
    int i, rc = CU_OK;

    for (i = 0; i < n; i++)
        vals[i] = NULL;
    res = PQexec(h->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = res_fail(h, res, errmsg, what);
    } else if (PQntuples(res) > 0) {
        for (i = 0; i < n && i < PQnfields(res); i++)
            if (!PQgetisnull(res, 0, i))
                vals[i] = xstrdup(PQgetvalue(res, 0, i));
    }
    PQclear(res);
    return rc;
}

/*
 * What the current schema holds: *version the migrations applied (0 when
 * new).  Refuses a schema with other tables but no custodian_store,
 * another program's custodian_store, and a store newer than this code.
 */
static int identify(struct store_pg *h, int *version, const char *what, char **errmsg)
{
    char *v[3];
    int rc, marker;

    *version = 0;
    rc = query_row(h,
                   "SELECT current_schema(), (SELECT count(*) FROM pg_tables"
                   " WHERE schemaname = current_schema()), (SELECT count(*) FROM pg_tables"
                   " WHERE schemaname = current_schema() AND tablename = 'custodian_store')",
                   v, 3, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (v[0] == NULL)
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: %s: no schema to create the tables in (check search_path)", what);
    else if (strcmp(v[2], "0") == 0 && strcmp(v[1], "0") != 0)
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: postgresql at %s (schema \"%.64s\") is not a custodian store",
                     h->where, v[0]);
    marker = rc == CU_OK && strcmp(v[2], "0") != 0;
    free(v[0]);
    free(v[1]);
    free(v[2]);
    if (!marker)
        return rc; /* a new store: version 0 */
    rc = query_row(h, "SELECT app, version FROM custodian_store WHERE id = 1", v, 2, what, errmsg);
    if (rc == CU_OK && v[0] != NULL) {
        if (strcmp(v[0], "custodian") != 0)
            rc = cu_errf(errmsg, CU_ERR_STORE, "store: postgresql at %s is not a custodian store",
                         h->where);
        else
            *version = atoi(v[1]);
    }
    free(v[0]);
    free(v[1]);
    if (rc == CU_OK && *version > SCHEMA_VERSION)
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: postgresql at %s has schema version %d, newer than this custodian "
                     "knows (%d): use a newer custodian",
                     h->where, *version, SCHEMA_VERSION);
    return rc;
}

/*
 * Applies the migrations the schema lacks, all in one transaction (a new
 * store is created whole or not at all) under an advisory lock: of servers
 * starting together, one migrates and the others find the work done.
 * Each step bumps custodian_store.version.
 */
static int migrate(struct store_pg *h, char **errmsg)
{
    const char *what = "migrate the schema";
    struct buf sql = BUF_INIT;
    int rc, version;

    rc = identify(h, &version, "read schema version", errmsg);
    if (rc != CU_OK || version == SCHEMA_VERSION)
        goto out;
    rc = exec_simple(h,
                     "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_KEY ","
                     " hashtext(current_schema() || ':migrate'))",
                     NULL, 0, what, errmsg);
    if (rc != CU_OK)
        goto out;
    h->own = 1;
    /* Read again under the lock: another server may have migrated. */
    rc = identify(h, &version, what, errmsg);
    if (rc == CU_OK && version == 0)
        buf_addstr(&sql, "CREATE TABLE custodian_store(id bigint PRIMARY KEY CHECK (id = 1),"
                         " app text NOT NULL, version bigint NOT NULL);"
                         " INSERT INTO custodian_store VALUES(1, 'custodian', 0);");
    for (; rc == CU_OK && version < SCHEMA_VERSION; version++)
        buf_addf(&sql, "%s UPDATE custodian_store SET version = %d WHERE id = 1;",
                 migrations[version], version + 1);
    if (rc == CU_OK && sql.len > 0)
        rc = exec_simple(h, sql.data, NULL, 0, what, errmsg);
    rc = scope_end(h, SCOPE_TRANSACTION, rc, what, errmsg);
out:
    if (rc == CU_OK)
        h->version = version;
    buf_release(&sql);
    return rc;
}

static const struct store_ops pg_ops;

static void notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int store_pg_open(struct store **out, const char *url, char **errmsg)
{
    /* Defaults first: the URL's own settings override them. */
    static const char *const keys[] = {"connect_timeout", "fallback_application_name",
                                       "client_encoding", "dbname", NULL};
    const char *vals[] = {"10", "custodian", "UTF8", url, NULL};
    struct store_pg *h;
    int rc = CU_OK;

    *out = NULL;
    h = xcalloc(1, sizeof(*h));
    h->base.ops = &pg_ops;
    buf_init(&h->blind_enc);
    store_customer_init(&h->old);
    h->where = describe_url(url);
    if (h->where == NULL) {
        h->where = xstrdup("?");
        rc = cu_errf(errmsg, CU_ERR_INVALID, "store: not a valid postgresql url");
        goto out;
    }
    h->conn = PQconnectdbParams(keys, vals, 1);
    if (h->conn == NULL || PQstatus(h->conn) != CONNECTION_OK) {
        rc = conn_fail(h, errmsg, "connect");
        goto out;
    }
    if (PQserverVersion(h->conn) < PG_MIN_VERSION) {
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: postgresql at %s is version %d, older than 11: upgrade it", h->where,
                     PQserverVersion(h->conn) / 10000);
        goto out;
    }
    /* Notices (e.g. from VACUUM) are not ours to print. */
    PQsetNoticeProcessor(h->conn, notice_ignore, NULL);
    rc = migrate(h, errmsg);
out:
    if (rc != CU_OK) {
        pgs_free(&h->base);
        return rc;
    }
    *out = &h->base;
    return CU_OK;
}

/* ---- meta ---- */

static int pgs_meta_get(struct store *s, const char *key, char **value, char **errmsg)
{
    struct store_pg *h = pg(s);
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, key);
    rc = stmt_exec(h, ST_META_GET, &p, &r, "read setting", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        *value = col_strdup(r, 0, 0);
    else
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: setting \"%s\" is not set", key);
    PQclear(r);
    return rc;
}

static int pgs_meta_set(struct store *s, const char *key, const char *value, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, key);
    p_text(&p, value);
    return stmt_run(pg(s), ST_META_SET, &p, NULL, "write setting", errmsg);
}

/* ---- key-encryption keys ---- */

static int pgs_kek_list(struct store *s, struct store_kek **out, size_t *n, char **errmsg)
{
    struct store_kek *list = NULL, *k;
    PGresult *r;
    int rc, i, rows;

    rc = stmt_exec(pg(s), ST_KEK_LIST, NULL, &r, "list key-encryption keys", errmsg);
    if (rc != CU_OK)
        return rc;
    rows = PQntuples(r);
    if (rows > 0)
        list = xcalloc((size_t)rows, sizeof(*list));
    for (i = 0; i < rows; i++) {
        k = &list[i];
        k->version = (uint32_t)col_i64(r, i, 0);
        k->state = (enum store_kek_state)col_i64(r, i, 1);
        buf_init(&k->wrapped);
        col_buf(r, i, 2, &k->wrapped);
        k->created_at = col_i64(r, i, 3);
    }
    PQclear(r);
    *out = list;
    *n = (size_t)rows;
    return CU_OK;
}

static int pgs_kek_put(struct store *s, const struct store_kek *k, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_i64(&p, k->version);
    p_i64(&p, (int64_t)k->state);
    p_buf(&p, &k->wrapped, 1);
    p_i64(&p, k->created_at ? k->created_at : cu_now());
    return stmt_run(pg(s), ST_KEK_PUT, &p, NULL, "write key-encryption key", errmsg);
}

/* ---- customers ---- */

/* Binds $2..$13 of the customer statements (see stmts). */
static void bind_customer_cols(struct params *p, const struct store_customer *c,
                               const struct buf *blind)
{
    int f;

    p_i64(p, c->kek_version);
    p_i64(p, c->dek_version);
    p_buf(p, &c->wrapped_dek, 0);
    for (f = 0; f < MODEL_F__COUNT; f++)
        p_buf(p, &c->sealed[f], 1);
    p_buf(p, blind, 0);
    p_i64(p, c->import_run);
}

/* The blind entries of c (the uint64 hashes as signed bigints) into two
 * arrays. */
static void blind_arrays(struct pgarray *kinds, struct pgarray *hashes,
                         const struct store_customer *c)
{
    size_t i;

    arr_begin(kinds, OID_INT8);
    arr_begin(hashes, OID_INT8);
    for (i = 0; i < c->nblind; i++) {
        arr_i64(kinds, c->blind[i].kind);
        arr_i64(hashes, u64_to_i64(c->blind[i].hash));
    }
    arr_end(kinds);
    arr_end(hashes);
}

/*
 * One statement: the row and its blind entries, or nothing when the
 * customer id exists (no statement error, so a caller's transaction
 * stays usable).
 */
static int pgs_customer_insert(struct store *s, struct store_customer *c, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "insert customer";
    struct params p;
    PGresult *r;
    int rc;

    if (c->created_at == 0)
        c->created_at = cu_now();
    if (c->updated_at == 0)
        c->updated_at = c->created_at;
    store_blind_encode(c, &h->blind_enc);
    blind_arrays(&h->a1, &h->a2, c);
    p_init(&p);
    p_text(&p, c->customer_id);
    bind_customer_cols(&p, c, &h->blind_enc);
    p_i64(&p, c->created_at);
    p_i64(&p, c->updated_at);
    p_array(&p, &h->a1);
    p_array(&p, &h->a2);
    rc = stmt_exec(h, ST_CUSTOMER_INSERT, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) == 1 && !col_null(r, 0, 0))
        c->id = col_i64(r, 0, 0);
    else if (PQntuples(r) == 1 && col_i64(r, 0, 1) != 0)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "store: %s: %s", what, ERASED_AGAIN);
    else
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "store: %s: the customer id exists", what);
    PQclear(r);
    return rc;
}

/* The stored row of customer_id, locked for the rest of the transaction:
 * its id, created_at and blind list (into h->old). */
static int customer_lookup(struct store_pg *h, const char *customer_id, int64_t *id,
                           int64_t *created_at, const char *what, char **errmsg)
{
    struct params p;
    const void *b;
    size_t len;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, customer_id);
    rc = stmt_exec(h, ST_CUSTOMER_LOOKUP, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) == 0) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
    } else {
        *id = col_i64(r, 0, 0);
        *created_at = col_i64(r, 0, 2);
        b = col_bytes(r, 0, 1, &len);
        if (store_blind_decode(&h->old, b, len) != CU_OK)
            rc = cu_errf(errmsg, CU_ERR_STORE, "store: %s: corrupt blind list", what);
    }
    PQclear(r);
    return rc;
}

/* One statement (see ST_CUSTOMER_UPDATE): atomic on its own, in a
 * caller's transaction or not. */
static int pgs_customer_replace(struct store *s, struct store_customer *c, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "replace customer";
    struct params p;
    PGresult *r;
    int rc;

    if (c->updated_at == 0)
        c->updated_at = cu_now();
    store_blind_encode(c, &h->blind_enc);
    blind_arrays(&h->a1, &h->a2, c);
    p_init(&p);
    p_text(&p, c->customer_id);
    bind_customer_cols(&p, c, &h->blind_enc);
    p_i64(&p, c->updated_at);
    p_array(&p, &h->a1);
    p_array(&p, &h->a2);
    rc = stmt_exec(h, ST_CUSTOMER_UPDATE, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) == 0) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
    } else {
        c->id = col_i64(r, 0, 0);
        c->created_at = col_i64(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

/* Copies row `row` of a CUSTOMER_COLS result into c. */
static int row_to_customer(const PGresult *r, int row, struct store_customer *c)
{
    const void *b;
    size_t len;
    int f;

    c->id = col_i64(r, row, 0);
    c->customer_id = col_strdup(r, row, 1);
    c->kek_version = (uint32_t)col_i64(r, row, 2);
    c->dek_version = (uint32_t)col_i64(r, row, 3);
    col_buf(r, row, 4, &c->wrapped_dek);
    for (f = 0; f < MODEL_F__COUNT; f++)
        col_buf(r, row, COL_SEALED + f, &c->sealed[f]);
    c->import_run = col_i64(r, row, COL_BLIND + 1);
    c->created_at = col_i64(r, row, COL_BLIND + 2);
    c->updated_at = col_i64(r, row, COL_BLIND + 3);
    b = col_bytes(r, row, COL_BLIND, &len);
    return store_blind_decode(c, b, len);
}

static int pgs_customer_get(struct store *s, const char *customer_id, int64_t id,
                            struct store_customer *c, char **errmsg)
{
    const char *what = "read customer";
    struct params p;
    PGresult *r;
    int rc;

    store_customer_reset(c);
    p_init(&p);
    if (customer_id != NULL)
        p_text(&p, customer_id);
    else
        p_i64(&p, id);
    rc = stmt_exec(pg(s), customer_id ? ST_CUSTOMER_GET_CID : ST_CUSTOMER_GET_ID, &p, &r, what,
                   errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
    else if (row_to_customer(r, 0, c) != CU_OK)
        rc = cu_errf(errmsg, CU_ERR_STORE, "store: %s: corrupt blind list", what);
    PQclear(r);
    if (rc != CU_OK)
        store_customer_reset(c);
    return rc;
}

/* A one-row count query with an optional bigint parameter. */
static int count_query(struct store_pg *h, enum stmt_id id, int bind, int64_t param, int64_t *n,
                       const char *what, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    if (bind)
        p_i64(&p, param);
    rc = stmt_exec(h, id, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    *n = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    return CU_OK;
}

static int pgs_customer_count(struct store *s, int64_t *n, char **errmsg)
{
    return count_query(pg(s), ST_CUSTOMER_COUNT, 0, 0, n, "count customers", errmsg);
}

static int pgs_blind_find(struct store *s, uint8_t kind, uint64_t hash, int64_t *ids, size_t max,
                          size_t *n, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_i64(&p, kind);
    p_i64(&p, u64_to_i64(hash));
    p_i64(&p, u64_clamp(max));
    rc = stmt_exec(pg(s), ST_BLIND_FIND, &p, &r, "blind index look-up", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r) && (size_t)i < max; i++)
        ids[i] = col_i64(r, i, 0);
    *n = (size_t)i;
    PQclear(r);
    return CU_OK;
}

/* ---- data-key rotation ---- */

static int pgs_dek_scan(struct store *s, uint32_t kek_version, int64_t after_id, size_t limit,
                        store_dek_cb cb, void *ctx, char **errmsg)
{
    struct params p;
    const void *dek;
    size_t len;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_i64(&p, after_id);
    p_i64(&p, kek_version);
    p_i64(&p, u64_clamp(limit));
    rc = stmt_exec(pg(s), ST_DEK_SCAN, &p, &r, "scan data keys", errmsg);
    if (rc != CU_OK)
        return rc;
    /* The page is in memory: the callback may update these rows. */
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        dek = col_bytes(r, i, 3, &len);
        rc = cb(ctx, col_i64(r, i, 0), col_text(r, i, 1), (uint32_t)col_i64(r, i, 2),
                dek ? dek : "", len);
    }
    PQclear(r);
    return rc;
}

static int pgs_dek_update(struct store *s, int64_t id, uint32_t kek_version, const void *wrapped,
                          size_t len, char **errmsg)
{
    const char *what = "update data key";
    struct params p;
    int64_t changed = 0;
    int rc;

    p_init(&p);
    p_i64(&p, kek_version);
    p_bytes(&p, wrapped, len);
    p_i64(&p, id);
    rc = stmt_run(pg(s), ST_DEK_UPDATE, &p, &changed, what, errmsg);
    if (rc == CU_OK && changed == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
    return rc;
}

static int pgs_kek_usage(struct store *s, uint32_t kek_version, int64_t *n, char **errmsg)
{
    return count_query(pg(s), ST_KEK_USAGE, 1, kek_version, n, "count data keys", errmsg);
}

static int pgs_kek_hold(struct store *s, uint32_t *active, char **errmsg)
{
    int64_t v = 0;
    int rc =
        count_query(pg(s), ST_KEK_HOLD, 1, STORE_KEK_ACTIVE, &v, "hold the active key", errmsg);

    *active = rc == CU_OK ? (uint32_t)v : 0;
    return rc;
}

/* ---- audit log ---- */

/* The log size now: 1 + the largest index, 0 when empty. */
static int audit_read_size(struct store_pg *h, uint64_t *size, const char *what, char **errmsg)
{
    PGresult *r;
    int rc = stmt_exec(h, ST_AUDIT_MAX, NULL, &r, what, errmsg);

    if (rc != CU_OK)
        return rc;
    *size = PQntuples(r) == 0 || col_null(r, 0, 0) ? 0 : (uint64_t)col_i64(r, 0, 0) + 1;
    PQclear(r);
    return CU_OK;
}

/*
 * Inside a transaction: takes the audit lock (held until the transaction
 * ends; every server's writer takes it) and then reads the size, in a
 * statement of its own so that its snapshot includes what the last
 * holder committed.
 */
static int audit_lock(struct store_pg *h, const char *what, char **errmsg)
{
    int rc;

    if (h->audit_size_known)
        return CU_OK;
    rc = stmt_exec(h, ST_AUDIT_LOCK, NULL, NULL, what, errmsg);
    if (rc == CU_OK)
        rc = audit_read_size(h, &h->audit_size, what, errmsg);
    if (rc == CU_OK)
        h->audit_size_known = 1;
    return rc;
}

/*
 * The rows are checked against the size (read under the audit lock)
 * before anything is written, so a conflict writes nothing; then one
 * INSERT of the whole batch, inside a savepoint when the caller has a
 * transaction open, so that a batch the database refuses leaves nothing
 * and the caller's transaction usable.
 */
static int pgs_audit_append(struct store *s, const struct store_audit_row *rows, size_t n,
                            char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "append audit entries";
    struct pgarray *a[5] = {&h->a1, &h->a2, &h->a3, &h->a4, &h->a5};
    enum scope scope;
    struct params p;
    uint64_t size = 0;
    size_t i;
    int rc;

    /* In a caller's transaction the lock is taken outside the savepoint
     * (rolling a savepoint back releases the locks taken in it). */
    if (h->txn) {
        rc = audit_lock(h, what, errmsg);
        if (rc != CU_OK)
            return rc;
    }
    rc = scope_begin(h, &scope, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (scope == SCOPE_TRANSACTION) {
        h->audit_size_known = 0;
        rc = audit_lock(h, what, errmsg);
        if (rc != CU_OK)
            goto out;
    }
    size = h->audit_size;
    if (rows[0].index != size) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "store: %s: first index %llu, but the log holds %llu entries", what,
                     (unsigned long long)rows[0].index, (unsigned long long)size);
        goto out;
    }
    if (n > (uint64_t)INT64_MAX - size) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "store: %s: index out of range", what);
        goto out;
    }
    for (i = 1; i < n; i++) {
        if (rows[i].index != size + i) {
            rc = cu_errf(errmsg, CU_ERR_CONFLICT, "store: %s: index %llu where %llu was expected",
                         what, (unsigned long long)rows[i].index, (unsigned long long)(size + i));
            goto out;
        }
    }
    arr_begin(a[0], OID_INT8);
    arr_begin(a[1], OID_INT8);
    arr_begin(a[2], OID_TEXT);
    arr_begin(a[3], OID_BYTEA);
    arr_begin(a[4], OID_BYTEA);
    for (i = 0; i < n; i++) {
        arr_i64(a[0], (int64_t)rows[i].index);
        arr_i64(a[1], rows[i].time_ms);
        arr_text(a[2], rows[i].actor);
        arr_bytes(a[3], rows[i].subject, rows[i].subject_len);
        arr_bytes(a[4], rows[i].leaf ? rows[i].leaf : "", rows[i].len);
    }
    p_init(&p);
    for (i = 0; i < 5; i++) {
        arr_end(a[i]);
        p_array(&p, a[i]);
    }
    rc = stmt_run(h, ST_AUDIT_INSERT, &p, NULL, what, errmsg);
out:
    rc = scope_end(h, scope, rc, what, errmsg);
    if (scope == SCOPE_TRANSACTION)
        h->audit_size_known = 0;
    else if (rc == CU_OK)
        h->audit_size = size + n;
    return rc;
}

static int pgs_audit_size(struct store *s, uint64_t *size, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "read audit log size";
    int rc;

    if (!h->txn)
        return audit_read_size(h, size, what, errmsg);
    rc = audit_lock(h, what, errmsg);
    if (rc == CU_OK)
        *size = h->audit_size;
    return rc;
}

/* Calls cb for each AUDIT_COLS row of r; *seen counts them, *last is the
 * last index.  A non-zero return from cb is returned. */
static int audit_rows(const PGresult *r, store_audit_cb cb, void *ctx, size_t *seen, uint64_t *last)
{
    struct store_audit_row row;
    const void *leaf;
    int i, rc;

    for (i = 0; i < PQntuples(r); i++) {
        row.index = (uint64_t)col_i64(r, i, 0);
        row.time_ms = col_i64(r, i, 1);
        row.actor = col_text(r, i, 2);
        row.subject = col_bytes(r, i, 3, &row.subject_len);
        leaf = col_bytes(r, i, 4, &row.len);
        row.leaf = leaf ? leaf : "";
        if (seen != NULL)
            (*seen)++;
        if (last != NULL)
            *last = row.index;
        rc = cb(ctx, &row);
        if (rc != 0)
            return rc;
    }
    return CU_OK;
}

/* In pages of SCAN_PAGE rows (a long log is never read into memory at
 * once); the connection is free while cb runs. */
static int pgs_audit_scan(struct store *s, uint64_t start, uint64_t end, store_audit_cb cb,
                          void *ctx, char **errmsg)
{
    struct store_pg *h = pg(s);
    struct params p;
    uint64_t last = 0;
    PGresult *r;
    int rc, rows;

    if (start > (uint64_t)INT64_MAX)
        return CU_OK;
    for (;;) {
        p_init(&p);
        p_i64(&p, (int64_t)start);
        p_i64(&p, u64_clamp(end));
        p_i64(&p, SCAN_PAGE);
        rc = stmt_exec(h, ST_AUDIT_SCAN, &p, &r, "read audit entries", errmsg);
        if (rc != CU_OK)
            return rc;
        rows = PQntuples(r);
        rc = audit_rows(r, cb, ctx, NULL, &last);
        PQclear(r);
        if (rc != CU_OK || rows < SCAN_PAGE)
            return rc;
        start = last + 1;
    }
}

/*
 * ---- the audit look-up index ----
 *
 * Entries are found by staff member and by customer through a table of
 * (key, idx) rows, key 0x01 || actor or 0x02 || subject pseudonym, built
 * behind the log in sorted chunks (store_audit_index) by a transaction of
 * its own that locks only the watermark row of audit_index_state: never
 * what the log's writers lock, so that appends never wait for it, and two
 * servers' indexers take turns.  Entries past the watermark are found by
 * scanning the log's tail.  A watermark past the log's end (a log
 * restored without its index) empties the index, which is rebuilt.
 */

static int index_watermark(struct store_pg *h, uint64_t *first, char **errmsg)
{
    PGresult *r;
    int rc = stmt_exec(h, ST_INDEX_WATERMARK, NULL, &r, "read the audit index state", errmsg);

    if (rc != CU_OK)
        return rc;
    *first = PQntuples(r) > 0 ? (uint64_t)col_i64(r, 0, 0) : 0;
    PQclear(r);
    return CU_OK;
}

struct find_ctx {
    store_audit_cb cb;
    void *ctx;
    size_t n;
};

static int find_count(void *arg, const struct store_audit_row *row)
{
    struct find_ctx *fc = arg;

    fc->n++;
    return fc->cb(fc->ctx, row);
}

static int pgs_audit_find(struct store *s, const char *actor, const unsigned char *subject,
                          size_t subject_len, size_t limit, store_audit_cb cb, void *ctx,
                          char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "find audit entries";
    struct find_ctx fc = {cb, ctx, 0};
    struct buf key = BUF_INIT;
    struct params p;
    uint64_t first = 0;
    PGresult *r;
    int rc;

    if (limit > (size_t)INT64_MAX)
        limit = (size_t)INT64_MAX;
    if (actor == NULL && subject == NULL) {
        p_init(&p);
        p_i64(&p, (int64_t)limit);
        rc = stmt_exec(h, ST_AUDIT_FIND_ALL, &p, &r, what, errmsg);
        if (rc != CU_OK)
            return rc;
        rc = audit_rows(r, cb, ctx, NULL, NULL);
        PQclear(r);
        return rc;
    }
    rc = index_watermark(h, &first, errmsg);
    if (rc != CU_OK)
        return rc;
    /* Newest first: the tail not indexed yet ... */
    p_init(&p);
    p_text(&p, actor);
    if (subject != NULL)
        p_bytes(&p, subject, subject_len);
    else
        p_bytes_or_null(&p, NULL, 0);
    p_i64(&p, (int64_t)limit);
    p_i64(&p, u64_clamp(first));
    rc = stmt_exec(h, ST_AUDIT_FIND_TAIL, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    rc = audit_rows(r, find_count, &fc, NULL, NULL);
    PQclear(r);
    if (rc != CU_OK || fc.n >= limit || first == 0)
        return rc;
    /* ... then the index, the actor checked when found by subject. */
    if (subject != NULL) {
        buf_addch(&key, 2);
        buf_add(&key, subject, subject_len);
    } else {
        buf_addch(&key, 1);
        buf_addstr(&key, actor);
    }
    p_init(&p);
    p_bytes(&p, key.data, key.len);
    p_i64(&p, u64_clamp(first));
    p_text(&p, subject != NULL ? actor : NULL);
    p_i64(&p, (int64_t)(limit - fc.n));
    rc = stmt_exec(h, ST_AUDIT_FIND_INDEXED, &p, &r, what, errmsg);
    if (rc == CU_OK) {
        rc = audit_rows(r, find_count, &fc, NULL, NULL);
        PQclear(r);
    }
    buf_release(&key);
    return rc;
}

/* One index row being built. */
struct ix_row {
    unsigned char key[1 + 64];
    size_t len;
    int64_t idx;
};

static int ix_row_cmp(const void *a, const void *b)
{
    const struct ix_row *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);

    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

struct ix_collect {
    struct ix_row *rows;
    size_t n, cap;
};

static void ix_add(struct ix_collect *c, unsigned char tag, const void *v, size_t len, int64_t idx)
{
    struct ix_row *r;

    if (len > sizeof(r->key) - 1)
        len = sizeof(r->key) - 1; /* actors are at most 32 bytes; never hit */
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096;
        c->rows = xrealloc(c->rows, c->cap * sizeof(*c->rows));
    }
    r = &c->rows[c->n++];
    r->key[0] = tag;
    memcpy(r->key + 1, v, len);
    r->len = 1 + len;
    r->idx = idx;
}

static int ix_collect_row(void *ctx, const struct store_audit_row *row)
{
    struct ix_collect *c = ctx;

    if (row->actor != NULL && row->actor[0] != '\0')
        ix_add(c, 1, row->actor, strlen(row->actor), (int64_t)row->index);
    if (row->subject != NULL && row->subject_len > 0)
        ix_add(c, 2, row->subject, row->subject_len, (int64_t)row->index);
    return 0;
}

static int pgs_audit_index(struct store *s, size_t max, uint64_t *watermark, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "index audit entries";
    struct ix_collect c = {NULL, 0, 0};
    uint64_t first = 0, size = 0, end = 0;
    enum scope scope;
    struct params p;
    PGresult *r;
    size_t i, k;
    int rc;

    if (h->txn)
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: %s: a transaction is open", what);
    rc = scope_begin(h, &scope, what, errmsg);
    if (rc != CU_OK)
        return rc;
    /* The watermark row, locked: one indexer at a time. */
    rc = stmt_exec(h, ST_INDEX_LOCK, NULL, &r, what, errmsg);
    if (rc != CU_OK)
        goto out;
    first = PQntuples(r) > 0 ? (uint64_t)col_i64(r, 0, 0) : 0;
    PQclear(r);
    rc = audit_read_size(h, &size, what, errmsg);
    if (rc != CU_OK)
        goto out;
    if (first > size) {
        /* The log is shorter than the index says: not this log's index. */
        first = 0;
        rc = stmt_run(h, ST_INDEX_RESET, NULL, NULL, what, errmsg);
        if (rc == CU_OK) {
            p_init(&p);
            p_i64(&p, 0);
            rc = stmt_run(h, ST_INDEX_SET, &p, NULL, what, errmsg);
        }
        if (rc != CU_OK)
            goto out;
    }
    *watermark = first;
    end = first + max < size ? first + max : size;
    if (end <= first)
        goto out;
    /* Read the chunk from the log (a read: the writers never wait), sort
     * it, and insert it in key order. */
    rc = pgs_audit_scan(s, first, end, ix_collect_row, &c, errmsg);
    if (rc != CU_OK)
        goto out;
    qsort(c.rows, c.n, sizeof(*c.rows), ix_row_cmp);
    for (i = 0; rc == CU_OK && i < c.n; i += INDEX_ROWS) {
        arr_begin(&h->a1, OID_BYTEA);
        arr_begin(&h->a2, OID_INT8);
        for (k = i; k < c.n && k < i + INDEX_ROWS; k++) {
            arr_bytes(&h->a1, c.rows[k].key, c.rows[k].len);
            arr_i64(&h->a2, c.rows[k].idx);
        }
        arr_end(&h->a1);
        arr_end(&h->a2);
        p_init(&p);
        p_array(&p, &h->a1);
        p_array(&p, &h->a2);
        rc = stmt_run(h, ST_INDEX_INSERT, &p, NULL, what, errmsg);
    }
    if (rc == CU_OK) {
        p_init(&p);
        p_i64(&p, (int64_t)end);
        rc = stmt_run(h, ST_INDEX_SET, &p, NULL, what, errmsg);
    }
out:
    rc = scope_end(h, scope, rc, what, errmsg);
    if (rc == CU_OK && end > first)
        *watermark = end;
    free(c.rows);
    return rc;
}

static int pgs_tile_put(struct store *s, unsigned level, uint64_t index, const void *hashes,
                        size_t len, char **errmsg)
{
    const char *what = "write audit tile";
    struct params p;

    if (index > (uint64_t)INT64_MAX)
        return cu_errf(errmsg, CU_ERR_INVALID, "store: %s: index out of range", what);
    p_init(&p);
    p_i64(&p, level);
    p_i64(&p, (int64_t)index);
    p_bytes(&p, hashes, len);
    return stmt_run(pg(s), ST_TILE_PUT, &p, NULL, what, errmsg);
}

static int pgs_tile_get(struct store *s, unsigned level, uint64_t index, struct buf *out,
                        char **errmsg)
{
    const char *what = "read audit tile";
    struct params p;
    PGresult *r;
    int rc;

    if (index > (uint64_t)INT64_MAX)
        return cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no tile %u/%llu", what, level,
                       (unsigned long long)index);
    p_init(&p);
    p_i64(&p, level);
    p_i64(&p, (int64_t)index);
    rc = stmt_exec(pg(s), ST_TILE_GET, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        col_buf(r, 0, 0, out);
    else
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no tile %u/%llu", what, level,
                     (unsigned long long)index);
    PQclear(r);
    return rc;
}

/* One statement writes: the insert does nothing when the size has a note,
 * which is then compared (notes are never deleted). */
static int pgs_checkpoint_put(struct store *s, uint64_t size, const char *note, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "write checkpoint";
    const char *old;
    struct params p;
    int64_t changed = 0;
    PGresult *r;
    int rc;

    if (size > (uint64_t)INT64_MAX)
        return cu_errf(errmsg, CU_ERR_INVALID, "store: %s: size out of range", what);
    p_init(&p);
    p_i64(&p, (int64_t)size);
    p_text(&p, note);
    rc = stmt_run(h, ST_CHECKPOINT_INSERT, &p, &changed, what, errmsg);
    if (rc != CU_OK || changed > 0)
        return rc;
    p_init(&p);
    p_i64(&p, (int64_t)size);
    rc = stmt_exec(h, ST_CHECKPOINT_GET, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    old = PQntuples(r) > 0 ? col_text(r, 0, 0) : NULL;
    if (old == NULL || strcmp(old, note) != 0)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "store: %s: another checkpoint is stored for size %llu", what,
                     (unsigned long long)size);
    PQclear(r);
    return rc;
}

static int pgs_checkpoint_latest(struct store *s, uint64_t *size, char **note, char **errmsg)
{
    const char *what = "read latest checkpoint";
    PGresult *r;
    int rc = stmt_exec(pg(s), ST_CHECKPOINT_LATEST, NULL, &r, what, errmsg);

    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0) {
        *size = (uint64_t)col_i64(r, 0, 0);
        *note = col_strdup(r, 0, 1);
    } else {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no checkpoint is stored", what);
    }
    PQclear(r);
    return rc;
}

static int pgs_checkpoint_scan(struct store *s, store_checkpoint_cb cb, void *ctx, char **errmsg)
{
    struct params p;
    int64_t after = -1;
    PGresult *r;
    int rc, i, rows;

    for (;;) {
        p_init(&p);
        p_i64(&p, after);
        p_i64(&p, SCAN_PAGE);
        rc = stmt_exec(pg(s), ST_CHECKPOINT_SCAN, &p, &r, "read checkpoints", errmsg);
        if (rc != CU_OK)
            return rc;
        rows = PQntuples(r);
        for (i = 0; i < rows && rc == CU_OK; i++) {
            after = col_i64(r, i, 0);
            rc = cb(ctx, (uint64_t)after, col_text(r, i, 1));
        }
        PQclear(r);
        if (rc != CU_OK || rows < SCAN_PAGE)
            return rc;
    }
}

/* ---- staff accounts ---- */

static int pgs_staff_put(struct store *s, const struct store_staff *st, int create, char **errmsg)
{
    const char *what = create ? "add staff account" : "update staff account";
    int64_t now = cu_now(), changed = 0;
    struct params p;
    int rc;

    p_init(&p);
    p_text(&p, st->username);
    p_text(&p, st->role);
    p_text(&p, st->store);
    p_text(&p, st->password_hash);
    p_buf(&p, &st->totp_sealed, 0);
    p_i64(&p, st->totp_last_step);
    p_i64(&p, st->must_change_password != 0);
    p_i64(&p, st->suspended != 0);
    p_i64(&p, st->failed_logins);
    p_i64(&p, st->locked_until);
    p_i64(&p, st->created_at ? st->created_at : now);
    p_i64(&p, now);
    rc = stmt_run(pg(s), create ? ST_STAFF_INSERT : ST_STAFF_UPDATE, &p, &changed, what, errmsg);
    if (rc == CU_OK && changed == 0)
        rc = create ? cu_errf(errmsg, CU_ERR_CONFLICT, "staff account '%s' exists already",
                              st->username)
                    : cu_errf(errmsg, CU_ERR_NOT_FOUND, "no staff account '%s'", st->username);
    return rc;
}

static void staff_row(const PGresult *r, int i, struct store_staff *st)
{
    store_staff_release(st);
    st->username = col_strdup(r, i, 0);
    st->role = col_strdup(r, i, 1);
    st->store = col_strdup(r, i, 2);
    st->password_hash = col_strdup(r, i, 3);
    col_buf(r, i, 4, &st->totp_sealed);
    st->totp_last_step = col_i64(r, i, 5);
    st->must_change_password = (int)col_i64(r, i, 6);
    st->suspended = (int)col_i64(r, i, 7);
    st->failed_logins = (int)col_i64(r, i, 8);
    st->locked_until = col_i64(r, i, 9);
    st->created_at = col_i64(r, i, 10);
    st->updated_at = col_i64(r, i, 11);
}

static int staff_read(struct store *s, enum stmt_id id, const char *username,
                      struct store_staff *out, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, username);
    rc = stmt_exec(pg(s), id, &p, &r, "read staff account", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        staff_row(r, 0, out);
    else
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no staff account '%.64s'", username);
    PQclear(r);
    return rc;
}

static int pgs_staff_get(struct store *s, const char *username, struct store_staff *out,
                         char **errmsg)
{
    return staff_read(s, ST_STAFF_GET, username, out, errmsg);
}

static int pgs_staff_lock(struct store *s, const char *username, struct store_staff *out,
                          char **errmsg)
{
    return staff_read(s, ST_STAFF_LOCK, username, out, errmsg);
}

static int pgs_staff_list(struct store *s, store_staff_cb cb, void *ctx, char **errmsg)
{
    struct store_staff st;
    PGresult *r;
    int rc, i;

    rc = stmt_exec(pg(s), ST_STAFF_LIST, NULL, &r, "list staff accounts", errmsg);
    if (rc != CU_OK)
        return rc;
    store_staff_init(&st);
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        staff_row(r, i, &st);
        rc = cb(ctx, &st);
    }
    store_staff_release(&st);
    PQclear(r);
    return rc;
}

/* ---- sessions and throttling ---- */

static int pgs_session_put(struct store *s, const struct store_session *ss, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_bytes(&p, ss->token_hash, 32);
    p_text(&p, ss->username);
    p_i64(&p, ss->created_at);
    p_i64(&p, ss->last_seen);
    p_i64(&p, ss->expires_at);
    return stmt_run(pg(s), ST_SESSION_PUT, &p, NULL, "add session", errmsg);
}

static int pgs_session_get(struct store *s, const unsigned char token_hash[32],
                           struct store_session *out, struct store_staff *staff, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_bytes(&p, token_hash, 32);
    rc = stmt_exec(pg(s), ST_SESSION_GET, &p, &r, "read session", errmsg);
    if (rc != CU_OK)
        return rc;
    store_session_release(out);
    if (PQntuples(r) > 0) {
        staff_row(r, 0, staff);
        memcpy(out->token_hash, token_hash, 32);
        out->username = xstrdup(staff->username);
        out->created_at = col_i64(r, 0, STAFF_NCOLS);
        out->last_seen = col_i64(r, 0, STAFF_NCOLS + 1);
        out->expires_at = col_i64(r, 0, STAFF_NCOLS + 2);
    } else {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no such session");
    }
    PQclear(r);
    return rc;
}

static int pgs_session_touch(struct store *s, const unsigned char token_hash[32], int64_t last_seen,
                             char **errmsg)
{
    struct params p;

    p_init(&p);
    p_bytes(&p, token_hash, 32);
    p_i64(&p, last_seen);
    return stmt_run(pg(s), ST_SESSION_TOUCH, &p, NULL, "touch session", errmsg);
}

static int pgs_session_delete(struct store *s, const unsigned char token_hash[32], char **errmsg)
{
    struct params p;

    p_init(&p);
    p_bytes(&p, token_hash, 32);
    return stmt_run(pg(s), ST_SESSION_DELETE, &p, NULL, "delete session", errmsg);
}

static int pgs_session_delete_user(struct store *s, const char *username, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, username);
    return stmt_run(pg(s), ST_SESSION_DELETE_USER, &p, NULL, "revoke sessions", errmsg);
}

static int pgs_throttle_get(struct store *s, const char *client, int64_t *failures,
                            int64_t *window_start, int64_t *locked_until, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    *failures = *window_start = *locked_until = 0;
    p_init(&p);
    p_text(&p, client);
    rc = stmt_exec(pg(s), ST_THROTTLE_GET, &p, &r, "read log-in throttle", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0) {
        *failures = col_i64(r, 0, 0);
        *window_start = col_i64(r, 0, 1);
        *locked_until = col_i64(r, 0, 2);
    }
    PQclear(r);
    return CU_OK;
}

static int pgs_throttle_put(struct store *s, const char *client, int64_t failures,
                            int64_t window_start, int64_t locked_until, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, client);
    p_i64(&p, failures);
    p_i64(&p, window_start);
    p_i64(&p, locked_until);
    return stmt_run(pg(s), ST_THROTTLE_PUT, &p, NULL, "write log-in throttle", errmsg);
}

/* ---- cases ---- */

static int pgs_case_put(struct store *s, const struct store_case *c, int create, char **errmsg)
{
    const char *what = create ? "add case" : "update case";
    int64_t changed = 0;
    struct params p;
    int rc;

    p_init(&p);
    p_text(&p, c->id);
    if (create) {
        p_text(&p, c->purpose);
        p_text(&p, c->customer_id);
        p_text(&p, c->requester);
        p_text(&p, c->requester_role);
        p_text(&p, c->store);
        p_text(&p, c->status);
        p_text(&p, c->reason);
        p_text(&p, c->approver);
        p_bytes_or_null(&p, c->has_code ? c->code_hash : NULL, 32);
        p_i64(&p, c->code_expires_at);
        p_i64(&p, c->code_tries);
        p_i64(&p, c->created_at);
        p_i64(&p, c->updated_at);
        p_i64(&p, c->expires_at);
        p_text(&p, c->cosigned_by);
        p_i64(&p, c->cosign_until);
    } else {
        p_text(&p, c->status);
        p_text(&p, c->approver);
        p_bytes_or_null(&p, c->has_code ? c->code_hash : NULL, 32);
        p_i64(&p, c->code_expires_at);
        p_i64(&p, c->code_tries);
        p_i64(&p, c->updated_at);
        p_text(&p, c->cosigned_by);
        p_i64(&p, c->cosign_until);
    }
    rc = stmt_run(pg(s), create ? ST_CASE_INSERT : ST_CASE_UPDATE, &p, &changed, what, errmsg);
    if (rc == CU_OK && changed == 0)
        rc = create ? cu_errf(errmsg, CU_ERR_CONFLICT, "case '%s' exists already", c->id)
                    : cu_errf(errmsg, CU_ERR_NOT_FOUND, "no case '%s'", c->id);
    return rc;
}

/* Row i of a CASE_COLS result into out (released first). */
static void case_row(const PGresult *r, int i, struct store_case *out)
{
    const void *code;
    size_t len;

    store_case_release(out);
    out->id = col_strdup(r, i, 0);
    out->purpose = col_strdup(r, i, 1);
    out->customer_id = col_strdup(r, i, 2);
    out->requester = col_strdup(r, i, 3);
    out->requester_role = col_strdup(r, i, 4);
    out->store = col_strdup(r, i, 5);
    out->status = col_strdup(r, i, 6);
    out->reason = col_strdup_or_null(r, i, 7);
    out->approver = col_strdup_or_null(r, i, 8);
    code = col_bytes(r, i, 9, &len);
    out->has_code = code != NULL && len == 32;
    if (out->has_code)
        memcpy(out->code_hash, code, 32);
    out->code_expires_at = col_i64(r, i, 10);
    out->code_tries = (int)col_i64(r, i, 11);
    out->created_at = col_i64(r, i, 12);
    out->updated_at = col_i64(r, i, 13);
    out->expires_at = col_i64(r, i, 14);
    out->cosigned_by = col_strdup_or_null(r, i, 15);
    out->cosign_until = col_i64(r, i, 16);
}

static int pgs_case_get(struct store *s, const char *id, struct store_case *out, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, id);
    rc = stmt_exec(pg(s), ST_CASE_GET, &p, &r, "read case", errmsg);
    if (rc != CU_OK)
        return rc;
    store_case_release(out);
    if (PQntuples(r) > 0)
        case_row(r, 0, out);
    else
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no case '%.64s'", id);
    PQclear(r);
    return rc;
}

/* The page is in memory: the callback may use the store. */
static int pgs_case_list(struct store *s, const char *status, size_t limit, store_case_cb cb,
                         void *ctx, char **errmsg)
{
    struct store_case c;
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, status);
    p_i64(&p, u64_clamp(limit));
    rc = stmt_exec(pg(s), ST_CASE_LIST, &p, &r, "list cases", errmsg);
    if (rc != CU_OK)
        return rc;
    store_case_init(&c);
    for (i = 0; i < PQntuples(r); i++) {
        case_row(r, i, &c);
        if (cb(ctx, &c) != 0)
            break;
    }
    store_case_release(&c);
    PQclear(r);
    return CU_OK;
}

static int pgs_case_take_try(struct store *s, const char *id, int max, int *tries, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, id);
    p_i64(&p, max);
    rc = stmt_exec(pg(s), ST_CASE_TRY, &p, &r, "count a code try", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        *tries = (int)col_i64(r, 0, 0);
    else
        rc = cu_errf(errmsg, CU_ERR_LIMIT, "no code tries left");
    PQclear(r);
    return rc;
}

/* ---- outbox ---- */

static int pgs_outbox_add(struct store *s, const struct store_message *m, int64_t *id,
                          char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, m->customer_id);
    p_text(&p, m->case_id);
    p_text(&p, m->channel);
    p_buf(&p, &m->sealed, 0);
    p_text(&p, m->status);
    p_i64(&p, m->attempts);
    p_i64(&p, m->next_attempt_at);
    p_text(&p, m->last_error);
    p_i64(&p, m->created_at);
    p_i64(&p, m->delivered_at);
    rc = stmt_exec(pg(s), ST_OUTBOX_ADD, &p, &r, "add an outbox message", errmsg);
    if (rc != CU_OK)
        return rc;
    *id = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    return CU_OK;
}

static int pgs_outbox_scan(struct store *s, int64_t after_id, int64_t due, size_t limit,
                           store_message_cb cb, void *ctx, char **errmsg)
{
    struct store_message m;
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_i64(&p, after_id);
    p_i64(&p, due);
    p_i64(&p, u64_clamp(limit));
    rc = stmt_exec(pg(s), ST_OUTBOX_SCAN, &p, &r, "read the outbox", errmsg);
    if (rc != CU_OK)
        return rc;
    store_message_init(&m);
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        store_message_release(&m);
        m.id = col_i64(r, i, 0);
        m.customer_id = col_strdup(r, i, 1);
        m.case_id = col_strdup_or_null(r, i, 2);
        m.channel = col_strdup(r, i, 3);
        col_buf(r, i, 4, &m.sealed);
        m.status = col_strdup(r, i, 5);
        m.attempts = (int)col_i64(r, i, 6);
        m.next_attempt_at = col_i64(r, i, 7);
        m.last_error = col_strdup_or_null(r, i, 8);
        m.created_at = col_i64(r, i, 9);
        m.delivered_at = col_i64(r, i, 10);
        rc = cb(ctx, &m);
    }
    store_message_release(&m);
    PQclear(r);
    return rc;
}

static int pgs_outbox_mark(struct store *s, const struct store_message *m, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_i64(&p, m->id);
    p_text(&p, m->status);
    p_i64(&p, m->attempts);
    p_i64(&p, m->next_attempt_at);
    p_text(&p, m->last_error);
    p_i64(&p, m->delivered_at);
    return stmt_run(pg(s), ST_OUTBOX_MARK, &p, NULL, "record an outbox delivery", errmsg);
}

static int pgs_outbox_expire(struct store *s, int64_t before, size_t limit, size_t *deleted,
                             char **errmsg)
{
    struct params p;
    int64_t n = 0;
    int rc;

    p_init(&p);
    p_i64(&p, before);
    p_i64(&p, u64_clamp(limit));
    rc = stmt_run(pg(s), ST_OUTBOX_EXPIRE, &p, &n, "expire outbox messages", errmsg);
    if (rc == CU_OK)
        *deleted = (size_t)n;
    return rc;
}

/* ---- insider detection ---- */

/* One statement for the whole batch (the counters are shared by every
 * server: the upsert adds atomically). */
static int pgs_detect_add(struct store *s, const struct store_count *c, size_t n, char **errmsg)
{
    struct store_pg *h = pg(s);
    struct params p;
    size_t i;

    if (n == 0)
        return CU_OK;
    arr_begin(&h->a1, OID_TEXT);
    arr_begin(&h->a2, OID_INT8);
    arr_begin(&h->a3, OID_INT8);
    arr_begin(&h->a4, OID_INT8);
    for (i = 0; i < n; i++) {
        arr_text(&h->a1, c[i].staff);
        arr_i64(&h->a2, c[i].metric);
        arr_i64(&h->a3, c[i].bucket);
        arr_i64(&h->a4, c[i].n);
    }
    arr_end(&h->a1);
    arr_end(&h->a2);
    arr_end(&h->a3);
    arr_end(&h->a4);
    p_init(&p);
    p_array(&p, &h->a1);
    p_array(&p, &h->a2);
    p_array(&p, &h->a3);
    p_array(&p, &h->a4);
    return stmt_run(h, ST_DETECT_ADD, &p, NULL, "update detection counters", errmsg);
}

static int pgs_detect_rows(struct store *s, const char *staff, store_count_cb cb, void *ctx,
                           char **errmsg)
{
    struct store_count c = {staff, 0, 0, 0};
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, staff);
    rc = stmt_exec(pg(s), ST_DETECT_ROWS, &p, &r, "read detection counters", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        c.metric = (int)col_i64(r, i, 0);
        c.bucket = col_i64(r, i, 1);
        c.n = col_i64(r, i, 2);
        rc = cb(ctx, &c);
    }
    PQclear(r);
    return rc;
}

static int pgs_detect_prune(struct store *s, const char *staff, const int64_t first_kept[3],
                            char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, staff);
    p_i64(&p, first_kept[0]);
    p_i64(&p, first_kept[1]);
    p_i64(&p, first_kept[2]);
    return stmt_run(pg(s), ST_DETECT_PRUNE, &p, NULL, "prune detection counters", errmsg);
}

static int pgs_alert_add(struct store *s, const struct store_alert *a, int64_t *id, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_i64(&p, a->created_at);
    p_text(&p, a->staff);
    p_text(&p, a->rule);
    p_text(&p, a->severity);
    p_text(&p, a->detail);
    if (a->audit_index >= 0)
        p_i64(&p, a->audit_index);
    else
        p_bytes_or_null(&p, NULL, 0);
    p_text(&p, a->evidence);
    rc = stmt_exec(pg(s), ST_ALERT_ADD, &p, &r, "add an alert", errmsg);
    if (rc != CU_OK)
        return rc;
    *id = PQntuples(r) > 0 ? col_i64(r, 0, 0) : 0;
    PQclear(r);
    return CU_OK;
}

static int pgs_alert_list(struct store *s, const char *status, size_t limit, store_alert_cb cb,
                          void *ctx, char **errmsg)
{
    struct store_alert a;
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, status);
    p_i64(&p, u64_clamp(limit));
    rc = stmt_exec(pg(s), ST_ALERT_LIST, &p, &r, "list alerts", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        a.id = col_i64(r, i, 0);
        a.created_at = col_i64(r, i, 1);
        a.staff = col_text(r, i, 2);
        a.rule = col_text(r, i, 3);
        a.severity = col_text(r, i, 4);
        a.detail = col_text(r, i, 5);
        a.audit_index = col_null(r, i, 6) ? -1 : col_i64(r, i, 6);
        a.status = col_text(r, i, 7);
        a.acked_by = col_text(r, i, 8);
        a.acked_at = col_i64(r, i, 9);
        a.evidence = col_text(r, i, 10);
        rc = cb(ctx, &a);
    }
    PQclear(r);
    return rc;
}

static int pgs_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **errmsg)
{
    struct params p;
    int64_t changed = 0;
    int rc;

    p_init(&p);
    p_i64(&p, id);
    p_text(&p, by);
    p_i64(&p, at);
    rc = stmt_run(pg(s), ST_ALERT_ACK, &p, &changed, "acknowledge an alert", errmsg);
    if (rc == CU_OK && changed == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no open alert %lld", (long long)id);
    return rc;
}

static int pgs_canary(struct store *s, const unsigned char tag[16], int add, int *has,
                      char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_bytes(&p, tag, 16);
    rc = stmt_exec(pg(s), add ? ST_CANARY_ADD : ST_CANARY_HAS, &p, &r,
                   add ? "add a canary" : "look for a canary", errmsg);
    if (rc != CU_OK)
        return rc;
    if (!add && has != NULL)
        *has = PQntuples(r) > 0;
    PQclear(r);
    return CU_OK;
}

/* One statement for a batch's rows, their ids in the array's order. */
static int pgs_recent_add(struct store *s, const struct store_recent *r, size_t n, char **errmsg)
{
    struct store_pg *h = pg(s);
    struct params p;
    size_t i;

    if (n == 0)
        return CU_OK;
    arr_begin(&h->a1, OID_TEXT);
    arr_begin(&h->a2, OID_INT8);
    arr_begin(&h->a3, OID_BYTEA);
    for (i = 0; i < n; i++) {
        arr_text(&h->a1, r[i].staff);
        arr_i64(&h->a2, r[i].t);
        arr_bytes(&h->a3, r[i].key, r[i].len);
    }
    arr_end(&h->a1);
    arr_end(&h->a2);
    arr_end(&h->a3);
    p_init(&p);
    p_array(&p, &h->a1);
    p_array(&p, &h->a2);
    p_array(&p, &h->a3);
    return stmt_run(h, ST_RECENT_ADD, &p, NULL, "record look-up neighbourhoods", errmsg);
}

static int pgs_recent_rows(struct store *s, const char *staff, int64_t after, int64_t since,
                           size_t limit, store_recent_cb cb, void *ctx, char **errmsg)
{
    struct params p;
    const void *key;
    size_t len;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, staff);
    p_i64(&p, after);
    p_i64(&p, since);
    p_i64(&p, u64_clamp(limit));
    rc = stmt_exec(pg(s), ST_RECENT_ROWS, &p, &r, "read look-up neighbourhoods", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        key = col_bytes(r, i, 2, &len);
        rc = cb(ctx, col_i64(r, i, 0), col_i64(r, i, 1), key ? key : "", len);
    }
    PQclear(r);
    return rc;
}

static int pgs_recent_prune(struct store *s, const char *staff, int64_t before, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, staff);
    p_i64(&p, before);
    return stmt_run(pg(s), ST_RECENT_PRUNE, &p, NULL, "prune look-up neighbourhoods", errmsg);
}

static int pgs_detect_peers(struct store *s, const char *role, const char *store, int metric,
                            int64_t bucket, store_count_cb cb, void *ctx, char **errmsg)
{
    struct store_count c = {NULL, metric, bucket, 0};
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, role);
    p_text(&p, store);
    p_i64(&p, metric);
    p_i64(&p, bucket);
    rc = stmt_exec(pg(s), ST_DETECT_PEERS, &p, &r, "read peers' counters", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        c.staff = col_text(r, i, 0);
        c.n = col_i64(r, i, 1);
        rc = cb(ctx, &c);
    }
    PQclear(r);
    return rc;
}

static int pgs_detect_store_days(struct store *s, const char *store, int metric, int64_t from,
                                 store_count_cb cb, void *ctx, char **errmsg)
{
    struct store_count c = {store, metric, 0, 0};
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, store);
    p_i64(&p, metric);
    p_i64(&p, from);
    rc = stmt_exec(pg(s), ST_DETECT_STORE_DAYS, &p, &r, "read a store's counters", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r) && rc == CU_OK; i++) {
        c.bucket = col_i64(r, i, 0);
        c.n = col_i64(r, i, 1);
        rc = cb(ctx, &c);
    }
    PQclear(r);
    return rc;
}

/*
 * ---- erasure ----
 *
 * The row is found and locked, then one statement deletes it with its
 * blind entries, its messages and its portal state, closes its cases and
 * writes the tombstone.  PostgreSQL keeps a deleted row's bytes in its
 * page until VACUUM prunes it, and in its write-ahead log (and any WAL
 * archive or base backup) until those are recycled: store_scrub() runs
 * VACUUM on the tables an erase touches; the log and the backups are the
 * database's (docs/postgres.md).
 */
static int pgs_customer_erase(struct store *s, const char *customer_id, int64_t erased_at,
                              struct store_erase_result *res, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "erase customer";
    int64_t id = 0, created_at = 0;
    enum scope scope;
    struct params p;
    PGresult *r;
    int rc;

    memset(res, 0, sizeof(*res));
    if (erased_at == 0)
        erased_at = cu_now();
    rc = scope_begin(h, &scope, what, errmsg);
    if (rc != CU_OK)
        return rc;
    /* Waits for the writers of customers (an import's transaction) and
     * holds off new ones until the erasure commits: an insert then sees
     * the tombstone (ST_CUSTOMER_INSERT), never the row going away. */
    rc = exec_simple(h, "LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE", NULL, 0, what, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = customer_lookup(h, customer_id, &id, &created_at, what, errmsg);
    if (rc != CU_OK)
        goto out;
    p_init(&p);
    p_text(&p, customer_id);
    p_i64(&p, erased_at);
    p_i64(&p, id);
    rc = stmt_exec(h, ST_ERASE, &p, &r, what, errmsg);
    if (rc != CU_OK)
        goto out;
    if (PQntuples(r) > 0) {
        res->blind = col_i64(r, 0, 0);
        res->messages = col_i64(r, 0, 1);
        res->cases = col_i64(r, 0, 2);
    }
    PQclear(r);
out:
    return scope_end(h, scope, rc, what, errmsg);
}

static int pgs_erased_get(struct store *s, const char *customer_id, int64_t *erased_at,
                          char **errmsg)
{
    const char *what = "read erasure";
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, customer_id);
    rc = stmt_exec(pg(s), ST_ERASED_GET, &p, &r, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        *erased_at = col_i64(r, 0, 0);
    else
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: the customer was not erased", what);
    PQclear(r);
    return rc;
}

/*
 * VACUUM of the tables an erase deletes from: the deleted rows are pruned
 * from their pages (no later copy of the tables' pages holds them as
 * rows), unless a transaction older than the erase still needs them; then
 * *complete is 0 (run it again later), as when SQLite's readers keep the
 * log.  Pruning frees a row's space without overwriting it, and the
 * write-ahead log, its archive and base backups keep older copies: see
 * docs/postgres.md.
 */
static int pgs_scrub(struct store *s, int *complete, char **errmsg)
{
    struct store_pg *h = pg(s);
    const char *what = "vacuum the erased rows' tables";
    char *v[1];
    int rc;

    *complete = 0;
    if (in_tx(h))
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: scrub: a transaction is open");
    rc = exec_simple(h, "VACUUM " SCRUB_TABLES, NULL, 0, what, errmsg);
    if (rc != CU_OK)
        return rc;
    /* The dead rows VACUUM had to keep (shared statistics, up to date at
     * the end of the VACUUM from PostgreSQL 15 on). */
    rc = query_row(h,
                   "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables"
                   " WHERE schemaname = current_schema() AND relname IN (" SCRUB_TABLE_LIST ")",
                   v, 1, what, errmsg);
    if (rc == CU_OK)
        *complete = v[0] != NULL && strcmp(v[0], "0") == 0;
    free(v[0]);
    return rc;
}

/* ---- the customer portal ---- */

static int run_text(struct store_pg *h, enum stmt_id id, const char *text, const char *what,
                    char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, text);
    return stmt_run(h, id, &p, NULL, what, errmsg);
}

static void code_row(const PGresult *r, struct store_subject_code *c)
{
    size_t len;
    const void *hash = col_bytes(r, 0, 0, &len);

    memset(c, 0, sizeof(*c));
    if (hash != NULL && len == sizeof(c->hash))
        memcpy(c->hash, hash, sizeof(c->hash));
    c->sent_at = col_i64(r, 0, 1);
    c->expires_at = col_i64(r, 0, 2);
    c->tries = (int)col_i64(r, 0, 3);
}

static int pgs_subject_code_put(struct store *s, const char *customer_id,
                                const unsigned char hash[32], int64_t sent_at, int64_t expires_at,
                                char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, customer_id);
    p_bytes(&p, hash, 32);
    p_i64(&p, sent_at);
    p_i64(&p, expires_at);
    return stmt_run(pg(s), ST_SCODE_PUT, &p, NULL, "store a sign-in code", errmsg);
}

static int pgs_subject_code_get(struct store *s, const char *customer_id,
                                struct store_subject_code *c, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    p_init(&p);
    p_text(&p, customer_id);
    rc = stmt_exec(pg(s), ST_SCODE_GET, &p, &r, "read a sign-in code", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        code_row(r, c);
    else
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no sign-in code");
    PQclear(r);
    return rc;
}

static int pgs_subject_code_take(struct store *s, const char *customer_id, int max,
                                 struct store_subject_code *c, char **errmsg)
{
    struct store_subject_code old;
    struct params p;
    PGresult *r;
    int rc;

    memset(c, 0, sizeof(*c));
    p_init(&p);
    p_text(&p, customer_id);
    p_i64(&p, max);
    rc = stmt_exec(pg(s), ST_SCODE_TRY, &p, &r, "count a sign-in code try", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0) {
        code_row(r, c);
        PQclear(r);
        return CU_OK;
    }
    PQclear(r);
    /* nothing taken: no code, or no try left */
    rc = pgs_subject_code_get(s, customer_id, &old, errmsg);
    if (rc == CU_OK)
        rc = cu_errf(errmsg, CU_ERR_LIMIT, "no tries left for this code");
    return rc;
}

static int pgs_subject_code_delete(struct store *s, const char *customer_id, char **errmsg)
{
    return run_text(pg(s), ST_SCODE_DELETE, customer_id, "delete a sign-in code", errmsg);
}

static int pgs_subject_session_put(struct store *s, const unsigned char token_hash[32],
                                   const char *customer_id, int64_t created_at, int64_t expires_at,
                                   char **errmsg)
{
    struct params p;

    p_init(&p);
    p_bytes(&p, token_hash, 32);
    p_text(&p, customer_id);
    p_i64(&p, created_at);
    p_i64(&p, expires_at);
    return stmt_run(pg(s), ST_SSESSION_PUT, &p, NULL, "store a customer session", errmsg);
}

static int pgs_subject_session_get(struct store *s, const unsigned char token_hash[32],
                                   char **customer_id, int64_t *expires_at, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    *customer_id = NULL;
    p_init(&p);
    p_bytes(&p, token_hash, 32);
    rc = stmt_exec(pg(s), ST_SSESSION_GET, &p, &r, "read a customer session", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0) {
        *customer_id = col_strdup(r, 0, 0);
        *expires_at = col_i64(r, 0, 1);
    } else {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no such session");
    }
    PQclear(r);
    return rc;
}

static int pgs_subject_session_delete(struct store *s, const unsigned char token_hash[32],
                                      char **errmsg)
{
    struct params p;

    p_init(&p);
    p_bytes(&p, token_hash, 32);
    return stmt_run(pg(s), ST_SSESSION_DELETE, &p, NULL, "delete a customer session", errmsg);
}

static int pgs_subject_digest_get(struct store *s, const char *customer_id, int *daily,
                                  char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc;

    *daily = 0;
    p_init(&p);
    p_text(&p, customer_id);
    rc = stmt_exec(pg(s), ST_SPREF_GET, &p, &r, "read a notice setting", errmsg);
    if (rc != CU_OK)
        return rc;
    if (PQntuples(r) > 0)
        *daily = col_i64(r, 0, 0) != 0;
    PQclear(r);
    return CU_OK;
}

static int pgs_subject_digest_put(struct store *s, const char *customer_id, int daily,
                                  char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, customer_id);
    p_i64(&p, daily != 0);
    return stmt_run(pg(s), ST_SPREF_PUT, &p, NULL, "store a notice setting", errmsg);
}

/* One statement for the batch: the audit commit runs it under the audit
 * lock, which every server waits for. */
static int pgs_notice_add(struct store *s, const struct store_notice *notices, size_t n,
                          char **errmsg)
{
    struct store_pg *h = pg(s);
    struct params p;
    size_t i;

    if (n == 0)
        return CU_OK;
    arr_begin(&h->a1, OID_INT8);
    arr_begin(&h->a2, OID_TEXT);
    arr_begin(&h->a3, OID_INT8);
    for (i = 0; i < n; i++) {
        arr_i64(&h->a1, u64_clamp(notices[i].audit_index));
        arr_text(&h->a2, notices[i].customer_id);
        arr_i64(&h->a3, notices[i].created_at);
    }
    arr_end(&h->a1);
    arr_end(&h->a2);
    arr_end(&h->a3);
    p_init(&p);
    p_array(&p, &h->a1);
    p_array(&p, &h->a2);
    p_array(&p, &h->a3);
    return stmt_run(h, ST_NOTICE_ADD, &p, NULL, "queue access notices", errmsg);
}

static int pgs_notice_scan(struct store *s, const char *customer_id, uint64_t from, size_t limit,
                           store_notice_cb cb, void *ctx, char **errmsg)
{
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_i64(&p, u64_clamp(from));
    p_i64(&p, u64_clamp(limit));
    p_text(&p, customer_id);
    rc = stmt_exec(pg(s), ST_NOTICE_SCAN, &p, &r, "read access notices", errmsg);
    if (rc != CU_OK)
        return rc;
    /* The page is in memory: cb may use the store. */
    for (i = 0; i < PQntuples(r); i++)
        if (cb(ctx, (uint64_t)col_i64(r, i, 0), col_text(r, i, 1), col_i64(r, i, 2)) != 0)
            break;
    PQclear(r);
    return CU_OK;
}

static int pgs_notice_delete(struct store *s, uint64_t audit_index, char **errmsg)
{
    const char *what = "forget an access notice";
    struct params p;
    int64_t changed = 0;
    int rc;

    p_init(&p);
    p_i64(&p, u64_clamp(audit_index));
    rc = stmt_run(pg(s), ST_NOTICE_DELETE, &p, &changed, what, errmsg);
    if (rc == CU_OK && changed == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such notice", what);
    return rc;
}

/* ---- erasure requests ---- */

static int pgs_erasure_put(struct store *s, const struct store_erasure *r, char **errmsg)
{
    struct params p;

    p_init(&p);
    p_text(&p, r->id);
    p_text(&p, r->customer_id);
    p_text(&p, r->status);
    p_i64(&p, r->requested_at);
    p_text(&p, r->decided_by);
    p_i64(&p, r->decided_at);
    return stmt_run(pg(s), ST_ERASURE_PUT, &p, NULL, "store an erasure request", errmsg);
}

static int pgs_erasure_list(struct store *s, const char *id, const char *status,
                            const char *customer_id, store_erasure_cb cb, void *ctx, char **errmsg)
{
    struct store_erasure e;
    struct params p;
    PGresult *r;
    int rc, i;

    p_init(&p);
    p_text(&p, id);
    p_text(&p, status);
    p_text(&p, customer_id);
    rc = stmt_exec(pg(s), ST_ERASURE_LIST, &p, &r, "read erasure requests", errmsg);
    if (rc != CU_OK)
        return rc;
    for (i = 0; i < PQntuples(r); i++) {
        e.id = col_text(r, i, 0);
        e.customer_id = col_text(r, i, 1);
        e.status = col_text(r, i, 2);
        e.requested_at = col_i64(r, i, 3);
        e.decided_by = col_text(r, i, 4);
        e.decided_at = col_i64(r, i, 5);
        if (cb(ctx, &e) != 0)
            break;
    }
    PQclear(r);
    return CU_OK;
}

static int pgs_erased_scan(struct store *s, store_erased_cb cb, void *ctx, char **errmsg)
{
    struct buf after = BUF_INIT;
    struct params p;
    PGresult *r;
    int rc, i, rows, stop = 0;

    buf_addstr(&after, "");
    for (;;) {
        p_init(&p);
        p_text(&p, after.data);
        p_i64(&p, SCAN_PAGE);
        rc = stmt_exec(pg(s), ST_ERASED_SCAN, &p, &r, "read erased customers", errmsg);
        if (rc != CU_OK)
            break;
        rows = PQntuples(r);
        for (i = 0; i < rows && !stop; i++)
            stop = cb(ctx, col_text(r, i, 0)) != 0;
        if (rows > 0) {
            buf_reset(&after);
            buf_addstr(&after, col_text(r, rows - 1, 0));
        }
        PQclear(r);
        if (stop || rows < SCAN_PAGE)
            break;
    }
    buf_release(&after);
    return rc;
}

static const struct store_ops pg_ops = {
    .name = "postgresql",
    .free = pgs_free,
    .schema_version = pgs_schema_version,
    .begin = pgs_begin,
    .commits_relaxed = pgs_commits_relaxed,
    .commit = pgs_commit,
    .rollback = pgs_rollback,
    .meta_get = pgs_meta_get,
    .meta_set = pgs_meta_set,
    .kek_list = pgs_kek_list,
    .kek_put = pgs_kek_put,
    .customer_insert = pgs_customer_insert,
    .customer_replace = pgs_customer_replace,
    .customer_get = pgs_customer_get,
    .customer_count = pgs_customer_count,
    .blind_find = pgs_blind_find,
    .dek_scan = pgs_dek_scan,
    .dek_update = pgs_dek_update,
    .kek_usage = pgs_kek_usage,
    .kek_hold = pgs_kek_hold,
    .audit_append = pgs_audit_append,
    .audit_size = pgs_audit_size,
    .audit_scan = pgs_audit_scan,
    .audit_find = pgs_audit_find,
    .audit_index = pgs_audit_index,
    .tile_put = pgs_tile_put,
    .tile_get = pgs_tile_get,
    .checkpoint_put = pgs_checkpoint_put,
    .checkpoint_latest = pgs_checkpoint_latest,
    .checkpoint_scan = pgs_checkpoint_scan,
    .staff_put = pgs_staff_put,
    .staff_get = pgs_staff_get,
    .staff_lock = pgs_staff_lock,
    .staff_list = pgs_staff_list,
    .session_put = pgs_session_put,
    .session_get = pgs_session_get,
    .session_touch = pgs_session_touch,
    .session_delete = pgs_session_delete,
    .session_delete_user = pgs_session_delete_user,
    .throttle_get = pgs_throttle_get,
    .throttle_put = pgs_throttle_put,
    .case_put = pgs_case_put,
    .case_get = pgs_case_get,
    .case_take_try = pgs_case_take_try,
    .case_list = pgs_case_list,
    .outbox_add = pgs_outbox_add,
    .outbox_scan = pgs_outbox_scan,
    .outbox_mark = pgs_outbox_mark,
    .outbox_expire = pgs_outbox_expire,
    .detect_add = pgs_detect_add,
    .detect_rows = pgs_detect_rows,
    .detect_prune = pgs_detect_prune,
    .alert_add = pgs_alert_add,
    .alert_list = pgs_alert_list,
    .alert_ack = pgs_alert_ack,
    .canary = pgs_canary,
    .recent_add = pgs_recent_add,
    .recent_rows = pgs_recent_rows,
    .recent_prune = pgs_recent_prune,
    .detect_peers = pgs_detect_peers,
    .detect_store_days = pgs_detect_store_days,
    /* erasure */
    .customer_erase = pgs_customer_erase,
    .erased_get = pgs_erased_get,
    .scrub = pgs_scrub,
    /* the customer portal */
    .subject_code_put = pgs_subject_code_put,
    .subject_code_get = pgs_subject_code_get,
    .subject_code_take = pgs_subject_code_take,
    .subject_code_delete = pgs_subject_code_delete,
    .subject_session_put = pgs_subject_session_put,
    .subject_session_get = pgs_subject_session_get,
    .subject_session_delete = pgs_subject_session_delete,
    .subject_digest_get = pgs_subject_digest_get,
    .subject_digest_put = pgs_subject_digest_put,
    .notice_add = pgs_notice_add,
    .notice_scan = pgs_notice_scan,
    .notice_delete = pgs_notice_delete,
    .erasure_put = pgs_erasure_put,
    .erasure_list = pgs_erasure_list,
    .erased_scan = pgs_erased_scan,
};
