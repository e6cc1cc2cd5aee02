/*
 * The SQLite back end of the store.
 *
 * One connection per `struct store`, in WAL mode with synchronous=FULL (a
 * committed transaction survives a power cut), a bounded page cache (memory
 * does not grow with the database) and a 5 s busy timeout.  Every statement
 * is prepared once, on first use, and cached on the handle; blobs are bound
 * SQLITE_STATIC (the caller's buffers outlive the step), so the write path
 * does not allocate.
 *
 * Schema: PRAGMA user_version is the number of migrations applied; the
 * `migrations` array below lists them in order, and each runs in its own
 * transaction that also bumps user_version.  A database newer than the code
 * is refused rather than guessed at.
 *
 * Transactions: the public begin/commit/rollback map to BEGIN IMMEDIATE /
 * COMMIT / ROLLBACK.  An operation made of several statements runs inside a
 * SAVEPOINT when the caller has a transaction open, or inside its own
 * BEGIN IMMEDIATE ... COMMIT otherwise, so that it is all or nothing either
 * way and never leaves part of its writes in the caller's transaction.
 *
 * Bulk insert (the import: a million customers, seven blind entries each,
 * in transactions of thousands) is the hot path, and two things dominate
 * it.  A savepoint makes SQLite copy every page the first time the
 * savepoint modifies it (4 KiB for each of the ~8 pages one customer
 * touches); and the blind entries are random keys, so inserting them in
 * arrival order walks a different B-tree leaf for every row.  So
 * customer_insert takes no savepoint (its one INSERT is atomic on its own),
 * and inside a caller's transaction it queues its blind rows on the handle
 * (`pending`) instead of inserting them; the queue is inserted sorted by
 * key, each leaf then visited once in order, before anything reads the
 * blind table, when it reaches PENDING_MAX entries, and at commit.  Queued
 * rows belong to the transaction: a rollback drops them.  customer_replace
 * keeps its savepoint (it deletes rows) but queues the new entries too.
 *
 * The audit writer (store_audit_append, group-committed: many entries per
 * call, many calls per transaction) is the other hot path, and takes no
 * savepoint either.  The rows are checked against the log size before
 * anything is written; the size is kept on the handle for the open write
 * transaction, read at its first append (another process may have appended
 * before this one took the write lock) and forgotten when it ends.  A batch
 * that fails half-way inside the caller's transaction is undone by deleting
 * what it wrote, exactly the rows from the old size up.  Scans stream from
 * the cached statement; a callback that scans the same store again gets a
 * private one.
 *
 * Error messages name the operation and carry sqlite3_errmsg(), which never
 * holds a personal value: no plaintext reaches the store.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* PRAGMA application_id of a custodian store: "CUST". */
#define SQLITE_APP_ID 0x43555354

#define SQLITE_BUSY_MS 5000

/*
 * Waiting for another connection's write transaction (the audit writer, the
 * courier, a worker, another process).  SQLite's own busy timeout sleeps 1,
 * 2, 5, 10 ... 100 ms between tries, so an audit commit that meets the
 * courier's transaction could wait tens of milliseconds after it ended:
 * the reveals' p99.  This polls every 100 us for the first 20 ms, then
 * every millisecond, up to SQLITE_BUSY_MS in all.
 */
static int busy_wait(void *arg, int tries)
{
    long us = tries < 200 ? 100 : 1000;
    long waited = tries < 200 ? tries * 100L : 20000L + (tries - 200) * 1000L;
    struct timespec ts = {0, us * 1000};

    (void)arg;
    if (waited >= SQLITE_BUSY_MS * 1000L)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

/* Blind rows queued before they are inserted (24 bytes each; the queue
 * may pass this by one customer's entries). */
#define PENDING_MAX (1 << 20)

/*
 * The sealed columns of `customers`, in enum model_field order (the column
 * for field f is the (5 + f)th of CUSTOMER_COLS, i.e. result column 5 + f).
 */
_Static_assert(MODEL_F__COUNT == 7, "the customers table has one column per model_field");
#define SEALED_COLS "account, name, phone, email, address, birth_date, devices"
#define CUSTOMER_COLS                                                                              \
    "id, customer_id, kek_version, dek_version, dek, " SEALED_COLS                                 \
    ", blind, import_run, created_at, updated_at"
#define COL_SEALED 5
#define COL_BLIND  (COL_SEALED + MODEL_F__COUNT)

/* The columns of an audit entry, in struct store_audit_row order
 * (audit_rows). */
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
 * to i + 1.  Never edit a released step; append a new one.
 */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE keks(version INTEGER PRIMARY KEY, state INTEGER NOT NULL, wrapped BLOB,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL UNIQUE,"
    " kek_version INTEGER NOT NULL, dek_version INTEGER NOT NULL, dek BLOB NOT NULL,"
    " account BLOB, name BLOB, phone BLOB, email BLOB, address BLOB, birth_date BLOB,"
    " devices BLOB, blind BLOB NOT NULL, import_run INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    /* store_kek_usage() counts by KEK version; a scan of the whole table
     * would read every sealed blob */
    "CREATE INDEX customers_kek ON customers(kek_version);"
    /* hash: the uint64 blind value stored as a signed 64-bit integer */
    "CREATE TABLE blind(kind INTEGER NOT NULL, hash INTEGER NOT NULL, customer INTEGER NOT NULL,"
    " PRIMARY KEY(kind, hash, customer)) WITHOUT ROWID;"
    "PRAGMA application_id = 1129665364;", /* SQLITE_APP_ID */
    /* 2: audit log storage: entries, hash tiles, signed checkpoints */
    "CREATE TABLE audit_entries(idx INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, actor TEXT,"
    " subject BLOB, leaf BLOB NOT NULL);"
    /* store_audit_find(): newest first by actor, by subject */
    "CREATE INDEX audit_by_actor ON audit_entries(actor, idx);"
    "CREATE INDEX audit_by_subject ON audit_entries(subject, idx) WHERE subject IS NOT NULL;"
    "CREATE TABLE audit_tiles(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " hashes BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "CREATE TABLE audit_checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);",
    /* 3: the look-up index of the audit log is built behind the log
     * (store_audit_index), in sorted chunks, instead of on every append:
     * actor and subject keys are random, and two random index pages per
     * entry cost the durable path two thirds of its speed.  Keys (BLOBs;
     * '||' makes text, hence the casts): 0x01 || actor, 0x02 || subject.  meta "audit_indexed": the
     * first entry not in the index. */
    "DROP INDEX audit_by_actor;"
    "DROP INDEX audit_by_subject;"
    "CREATE TABLE audit_index(key BLOB NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(key, idx)) WITHOUT ROWID;"
    "INSERT INTO audit_index SELECT CAST(x'01' || actor AS BLOB), idx FROM audit_entries"
    " WHERE actor IS NOT NULL;"
    "INSERT INTO audit_index SELECT CAST(x'02' || subject AS BLOB), idx FROM audit_entries"
    " WHERE subject IS NOT NULL;"
    "INSERT OR REPLACE INTO meta(key, value) VALUES('audit_indexed',"
    " (SELECT coalesce(max(idx) + 1, 0) FROM audit_entries));",
    /* 4: staff accounts (password: Argon2id string; TOTP secret sealed) */
    "CREATE TABLE staff(username TEXT PRIMARY KEY, role TEXT NOT NULL, store TEXT NOT NULL,"
    " password TEXT NOT NULL, totp BLOB NOT NULL, totp_last_step INTEGER NOT NULL,"
    " must_change INTEGER NOT NULL, suspended INTEGER NOT NULL, failed_logins INTEGER NOT NULL,"
    " locked_until INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);",
    /* 5: sessions (under the keyed hash of the token) and log-in throttling */
    "CREATE TABLE sessions(token_hash BLOB PRIMARY KEY, username TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX sessions_by_user ON sessions(username);"
    "CREATE TABLE login_throttle(client TEXT PRIMARY KEY, failures INTEGER NOT NULL,"
    " window_start INTEGER NOT NULL, locked_until INTEGER NOT NULL);",
    /* 6: cases (the code only as a keyed hash) and the customer outbox
     * (recipient and text sealed) */
    "CREATE TABLE cases(id TEXT PRIMARY KEY, purpose TEXT NOT NULL, customer_id TEXT NOT NULL,"
    " requester TEXT NOT NULL, requester_role TEXT NOT NULL, store TEXT NOT NULL,"
    " status TEXT NOT NULL, reason TEXT, approver TEXT, code_hash BLOB,"
    " code_expires_at INTEGER NOT NULL, code_tries INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE INDEX cases_by_customer ON cases(customer_id);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, case_id TEXT,"
    " channel TEXT NOT NULL, sealed BLOB NOT NULL, status TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, last_error TEXT,"
    " created_at INTEGER NOT NULL, delivered_at INTEGER NOT NULL);"
    "CREATE INDEX outbox_by_customer ON outbox(customer_id);"
    "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending';",
    /* 7: the audit look-up index moves to a file of its own (see "the
     * audit look-up index" below), rebuilt there from the entries; meta
     * "audit_log_id" ties that file to this database. */
    "DROP TABLE audit_index;"
    "DELETE FROM meta WHERE key = 'audit_indexed';"
    "INSERT OR REPLACE INTO meta(key, value) VALUES('audit_log_id', lower(hex(randomblob(16))));",
    /* 8: insider detection: per-staff counters in time buckets (written
     * in the audit commit that records what they count) and alerts */
    "CREATE TABLE detect_counts(staff TEXT NOT NULL, metric INTEGER NOT NULL,"
    " bucket INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(staff, metric, bucket))"
    " WITHOUT ROWID;"
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,"
    " staff TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, detail TEXT NOT NULL,"
    " audit_index INTEGER, status TEXT NOT NULL, acked_by TEXT, acked_at INTEGER);"
    "CREATE INDEX alerts_open ON alerts(status, id);",
    /* 9: canary customers, by their keyed tag (vault_canary_tag) only */
    "CREATE TABLE canaries(tag BLOB PRIMARY KEY) WITHOUT ROWID;",
    /* 10: the detector's recent look-up neighbourhoods (keyed hashes) */
    "CREATE TABLE detect_recent(staff TEXT NOT NULL, t INTEGER NOT NULL, key BLOB NOT NULL);"
    "CREATE INDEX detect_recent_by_staff ON detect_recent(staff, t);",
    /* 11: a supervisor's co-sign of a case (step-up) */
    "ALTER TABLE cases ADD COLUMN cosigned_by TEXT;"
    "ALTER TABLE cases ADD COLUMN cosign_until INTEGER NOT NULL DEFAULT 0;",
    /* 12: an alert's evidence: the audit indexes of the entries involved */
    "ALTER TABLE alerts ADD COLUMN evidence TEXT;",
    /* 13: erased customers' tombstones (store_customer_erase): the id and
     * when, nothing personal */
    "CREATE TABLE erased(customer_id TEXT PRIMARY KEY, erased_at INTEGER NOT NULL) WITHOUT ROWID;",
    /* 14: the customer portal: sign-in codes and sessions (keyed hashes
     * only), notice settings, and pending access notices (one per allowed
     * reveal, written in the reveal's audit commit) */
    "CREATE TABLE subject_codes(customer_id TEXT PRIMARY KEY, hash BLOB NOT NULL,"
    " sent_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, tries INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID;"
    "CREATE TABLE subject_sessions(token_hash BLOB PRIMARY KEY, customer_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX subject_sessions_by_customer ON subject_sessions(customer_id);"
    "CREATE TABLE subject_prefs(customer_id TEXT PRIMARY KEY, daily INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE notices(audit_index INTEGER PRIMARY KEY, customer_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX notices_by_customer ON notices(customer_id, audit_index);",
    /* 15: customers' erasure requests, decided by an admin */
    "CREATE TABLE erasure_requests(id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,"
    " status TEXT NOT NULL, requested_at INTEGER NOT NULL, decided_by TEXT,"
    " decided_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX erasure_requests_by_status ON erasure_requests(status, requested_at);",
    /* 16: look-up neighbourhoods get an id that grows in commit order and
     * is never reused (AUTOINCREMENT), so that readers take only new rows */
    "CREATE TABLE detect_recent_new(id INTEGER PRIMARY KEY AUTOINCREMENT, staff TEXT NOT NULL,"
    " t INTEGER NOT NULL, key BLOB NOT NULL);"
    "INSERT INTO detect_recent_new(staff, t, key) SELECT staff, t, key FROM detect_recent"
    " ORDER BY rowid;"
    "DROP TABLE detect_recent;"
    "ALTER TABLE detect_recent_new RENAME TO detect_recent;"
    "CREATE INDEX detect_recent_by_staff ON detect_recent(staff, t);"
    "CREATE INDEX detect_recent_by_staff_id ON detect_recent(staff, id);",
    /* 17: outbox retention (store_outbox_expire) walks messages by age */
    "CREATE INDEX outbox_by_created ON outbox(created_at);",
};
_Static_assert(SQLITE_APP_ID == 1129665364, "application_id in migration 1");
#define SCHEMA_VERSION ((int)CU_ARRAY_LEN(migrations))

enum stmt_id {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
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
    ST_BLIND_INSERT,
    ST_BLIND_DELETE,
    ST_BLIND_FIND,
    ST_DEK_SCAN,
    ST_DEK_UPDATE,
    ST_KEK_USAGE,
    ST_KEK_HOLD,
    ST_AUDIT_MAX,
    ST_AUDIT_INSERT,
    ST_AUDIT_UNDO,
    ST_AUDIT_SCAN,
    ST_AUDIT_FIND_ALL,
    ST_AUDIT_FIND_TAIL,
    ST_TILE_PUT,
    ST_TILE_GET,
    ST_CHECKPOINT_INSERT,
    ST_CHECKPOINT_GET,
    ST_CHECKPOINT_LATEST,
    ST_CHECKPOINT_SCAN,
    ST_STAFF_INSERT,
    ST_STAFF_UPDATE,
    ST_STAFF_GET,
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
 * Customer insert and update share their parameter numbers (bind_customer):
 * ?1 customer_id, ?2 kek_version, ?3 dek_version, ?4 dek, ?5..?11 the sealed
 * fields, ?12 blind, ?13 import_run, ?14 created_at, ?15 updated_at; the
 * update adds ?16 id and leaves ?1 and ?14 unused.
 */
static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT store_op",
    [ST_RELEASE] = "RELEASE store_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO store_op",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_KEK_LIST] = "SELECT version, state, wrapped, created_at FROM keks ORDER BY version",
    [ST_KEK_PUT] = "INSERT INTO keks(version, state, wrapped, created_at) VALUES(?1, ?2, ?3, ?4)"
                   " ON CONFLICT(version) DO UPDATE SET state = excluded.state,"
                   " wrapped = excluded.wrapped",
    [ST_CUSTOMER_INSERT] =
        "INSERT INTO customers(customer_id, kek_version, dek_version, dek, " SEALED_COLS
        ", blind, import_run, created_at, updated_at)"
        " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15"
        " WHERE NOT EXISTS (SELECT 1 FROM erased WHERE customer_id = ?1)",
    [ST_CUSTOMER_LOOKUP] = "SELECT id, blind, created_at FROM customers WHERE customer_id = ?1",
    [ST_CUSTOMER_UPDATE] = "UPDATE customers SET kek_version = ?2, dek_version = ?3, dek = ?4,"
                           " account = ?5, name = ?6, phone = ?7, email = ?8, address = ?9,"
                           " birth_date = ?10, devices = ?11, blind = ?12, import_run = ?13,"
                           " updated_at = ?15 WHERE id = ?16",
    [ST_CUSTOMER_GET_CID] = "SELECT " CUSTOMER_COLS " FROM customers WHERE customer_id = ?1",
    [ST_CUSTOMER_GET_ID] = "SELECT " CUSTOMER_COLS " FROM customers WHERE id = ?1",
    [ST_CUSTOMER_COUNT] = "SELECT count(*) FROM customers",
    [ST_BLIND_INSERT] = "INSERT OR IGNORE INTO blind(kind, hash, customer) VALUES(?1, ?2, ?3)",
    [ST_BLIND_DELETE] = "DELETE FROM blind WHERE kind = ?1 AND hash = ?2 AND customer = ?3",
    [ST_BLIND_FIND] = "SELECT customer FROM blind WHERE kind = ?1 AND hash = ?2"
                      " ORDER BY customer LIMIT ?3",
    [ST_DEK_SCAN] = "SELECT id, customer_id, kek_version, dek FROM customers"
                    " WHERE id > ?1 AND kek_version <> ?2 ORDER BY id LIMIT ?3",
    [ST_DEK_UPDATE] = "UPDATE customers SET kek_version = ?1, dek = ?2 WHERE id = ?3",
    [ST_KEK_USAGE] = "SELECT count(*) FROM customers WHERE kek_version = ?1",
    [ST_KEK_HOLD] = "SELECT coalesce(max(version), 0) FROM keks WHERE state = ?1",
    [ST_AUDIT_MAX] = "SELECT max(idx) FROM audit_entries",
    [ST_AUDIT_INSERT] = "INSERT INTO audit_entries(idx, time_ms, actor, subject, leaf)"
                        " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_AUDIT_UNDO] = "DELETE FROM audit_entries WHERE idx >= ?1",
    [ST_AUDIT_SCAN] = "SELECT " AUDIT_COLS " FROM audit_entries WHERE idx >= ?1 AND idx < ?2"
                      " ORDER BY idx",
    /* find: ?1 actor, ?2 subject, ?3 limit */
    [ST_AUDIT_FIND_ALL] = "SELECT " AUDIT_COLS " FROM audit_entries ORDER BY idx DESC LIMIT ?3",
    /* find: ?1 actor or NULL, ?2 subject or NULL, ?3 limit, ?4 the first
     * entry not indexed; the tail (not indexed yet) is scanned */
    [ST_AUDIT_FIND_TAIL] = "SELECT " AUDIT_COLS " FROM audit_entries WHERE idx >= ?4"
                           " AND (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR subject = ?2)"
                           " ORDER BY idx DESC LIMIT ?3",
    [ST_TILE_PUT] = "INSERT OR REPLACE INTO audit_tiles(level, idx, hashes) VALUES(?1, ?2, ?3)",
    [ST_TILE_GET] = "SELECT hashes FROM audit_tiles WHERE level = ?1 AND idx = ?2",
    [ST_CHECKPOINT_INSERT] = "INSERT INTO audit_checkpoints(size, note) VALUES(?1, ?2)"
                             " ON CONFLICT(size) DO NOTHING",
    [ST_CHECKPOINT_GET] = "SELECT note FROM audit_checkpoints WHERE size = ?1",
    [ST_CHECKPOINT_LATEST] = "SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
    [ST_CHECKPOINT_SCAN] = "SELECT size, note FROM audit_checkpoints ORDER BY size",
    /* staff: ?1 username ... ?12 updated_at, in STAFF_COLS order */
    [ST_STAFF_INSERT] = "INSERT INTO staff(" STAFF_COLS ")"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_STAFF_UPDATE] = "UPDATE staff SET role = ?2, store = ?3, password = ?4, totp = ?5,"
                        " totp_last_step = ?6, must_change = ?7, suspended = ?8,"
                        " failed_logins = ?9, locked_until = ?10, updated_at = ?12"
                        " WHERE username = ?1",
    [ST_STAFF_GET] = "SELECT " STAFF_COLS " FROM staff WHERE username = ?1",
    [ST_STAFF_LIST] = "SELECT " STAFF_COLS " FROM staff ORDER BY username",
    [ST_SESSION_PUT] = "INSERT INTO sessions(token_hash, username, created_at, last_seen,"
                       " expires_at) VALUES(?1, ?2, ?3, ?4, ?5)",
    /* the account's columns first (staff_row), then the session's */
    [ST_SESSION_GET] = "SELECT " STAFF_COLS ", s_created, s_seen, s_expires FROM staff"
                       " JOIN (SELECT username AS s_user, created_at AS s_created,"
                       " last_seen AS s_seen, expires_at AS s_expires FROM sessions"
                       " WHERE token_hash = ?1) ON username = s_user",
    [ST_SESSION_TOUCH] = "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [ST_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE username = ?1",
    [ST_THROTTLE_GET] = "SELECT failures, window_start, locked_until FROM login_throttle"
                        " WHERE client = ?1",
    [ST_THROTTLE_PUT] = "INSERT OR REPLACE INTO login_throttle(client, failures, window_start,"
                        " locked_until) VALUES(?1, ?2, ?3, ?4)",
    /* cases: ?1 id ... ?17 cosign_until, in CASE_COLS order */
    [ST_CASE_INSERT] = "INSERT INTO cases(" CASE_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                       " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [ST_CASE_UPDATE] = "UPDATE cases SET status = ?7, approver = ?9, code_hash = ?10,"
                       " code_expires_at = ?11, code_tries = ?12, updated_at = ?14,"
                       " cosigned_by = ?16, cosign_until = ?17 WHERE id = ?1",
    [ST_CASE_GET] = "SELECT " CASE_COLS " FROM cases WHERE id = ?1",
    [ST_CASE_TRY] = "UPDATE cases SET code_tries = code_tries + 1"
                    " WHERE id = ?1 AND code_tries < ?2 RETURNING code_tries",
    [ST_OUTBOX_ADD] = "INSERT INTO outbox(" OUTBOX_COLS ")"
                      " VALUES(NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* ?1 after id, ?2 due (0: every message), ?3 limit */
    [ST_OUTBOX_SCAN] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id > ?1"
                       " AND (?2 = 0 OR (status = 'pending' AND next_attempt_at <= ?2))"
                       " ORDER BY id LIMIT ?3",
    [ST_OUTBOX_MARK] = "UPDATE outbox SET status = ?6, attempts = ?7, next_attempt_at = ?8,"
                       " last_error = ?9, delivered_at = ?11 WHERE id = ?1",
    /* ?1 created before, ?2 limit: oldest first, never a pending one */
    [ST_OUTBOX_EXPIRE] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                         " WHERE created_at < ?1 AND status <> 'pending'"
                         " ORDER BY created_at LIMIT ?2)",
    [ST_DETECT_ADD] = "INSERT INTO detect_counts(staff, metric, bucket, n) VALUES(?1, ?2, ?3, ?4)"
                      " ON CONFLICT(staff, metric, bucket) DO UPDATE SET n = n + excluded.n",
    [ST_DETECT_ROWS] = "SELECT metric, bucket, n FROM detect_counts WHERE staff = ?1",
    /* metric % 4: the bucket size (minute, hour, day); ?2..?4 the first kept */
    [ST_DETECT_PRUNE] = "DELETE FROM detect_counts WHERE staff = ?1 AND ("
                        "(metric % 4 = 0 AND bucket < ?2) OR (metric % 4 = 1 AND bucket < ?3) OR"
                        " (metric % 4 = 2 AND bucket < ?4))",
    [ST_ALERT_ADD] = "INSERT INTO alerts(created_at, staff, rule, severity, detail, audit_index,"
                     " status, evidence) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)",
    /* ?1 status or NULL, ?2 limit */
    [ST_ALERT_LIST] = "SELECT id, created_at, staff, rule, severity, detail, audit_index, status,"
                      " acked_by, acked_at, evidence FROM alerts WHERE ?1 IS NULL OR status = ?1"
                      " ORDER BY id DESC LIMIT ?2",
    [ST_ALERT_ACK] = "UPDATE alerts SET status = 'acked', acked_by = ?2, acked_at = ?3"
                     " WHERE id = ?1 AND status = 'open'",
    [ST_CANARY_ADD] = "INSERT OR IGNORE INTO canaries(tag) VALUES(?1)",
    [ST_CANARY_HAS] = "SELECT 1 FROM canaries WHERE tag = ?1",
    [ST_RECENT_ADD] = "INSERT INTO detect_recent(staff, t, key) VALUES(?1, ?2, ?3)",
    [ST_RECENT_ROWS] = "SELECT id, t, key FROM (SELECT id, t, key FROM detect_recent"
                       " WHERE staff = ?1 AND id > ?2 AND t >= ?3 ORDER BY id DESC LIMIT ?4)"
                       " ORDER BY id",
    [ST_RECENT_PRUNE] = "DELETE FROM detect_recent WHERE staff = ?1 AND t < ?2",
    /* every active account of a role and store with its count of ?3 in
     * bucket ?4 (0 when it has none) */
    [ST_DETECT_PEERS] = "SELECT s.username, coalesce(c.n, 0) FROM staff s LEFT JOIN detect_counts c"
                        " ON c.staff = s.username AND c.metric = ?3 AND c.bucket = ?4"
                        " WHERE s.role = ?1 AND s.store = ?2 AND s.suspended = 0",
    /* a store's total of ?2 per bucket from ?3 on */
    [ST_DETECT_STORE_DAYS] = "SELECT c.bucket, sum(c.n) FROM detect_counts c JOIN staff s"
                             " ON s.username = c.staff WHERE s.store = ?1 AND c.metric = ?2"
                             " AND c.bucket >= ?3 GROUP BY c.bucket",
    [ST_SCODE_PUT] = "INSERT INTO subject_codes(customer_id, hash, sent_at, expires_at, tries)"
                     " VALUES(?1, ?2, ?3, ?4, 0) ON CONFLICT(customer_id) DO UPDATE SET"
                     " hash = excluded.hash, sent_at = excluded.sent_at,"
                     " expires_at = excluded.expires_at, tries = 0",
    [ST_SCODE_GET] = "SELECT hash, sent_at, expires_at, tries FROM subject_codes"
                     " WHERE customer_id = ?1",
    [ST_SCODE_TRY] = "UPDATE subject_codes SET tries = tries + 1 WHERE customer_id = ?1"
                     " AND tries < ?2 RETURNING hash, sent_at, expires_at, tries",
    [ST_SCODE_DELETE] = "DELETE FROM subject_codes WHERE customer_id = ?1",
    [ST_SSESSION_PUT] = "INSERT INTO subject_sessions(token_hash, customer_id, created_at,"
                        " expires_at) VALUES(?1, ?2, ?3, ?4)",
    [ST_SSESSION_GET] = "SELECT customer_id, expires_at FROM subject_sessions"
                        " WHERE token_hash = ?1",
    [ST_SSESSION_DELETE] = "DELETE FROM subject_sessions WHERE token_hash = ?1",
    [ST_SPREF_GET] = "SELECT daily FROM subject_prefs WHERE customer_id = ?1",
    [ST_SPREF_PUT] = "INSERT INTO subject_prefs(customer_id, daily) VALUES(?1, ?2)"
                     " ON CONFLICT(customer_id) DO UPDATE SET daily = excluded.daily",
    [ST_NOTICE_ADD] = "INSERT OR IGNORE INTO notices(audit_index, customer_id, created_at)"
                      " VALUES(?1, ?2, ?3)",
    /* ?3 NULL: every customer's */
    [ST_NOTICE_SCAN] = "SELECT audit_index, customer_id, created_at FROM notices"
                       " WHERE audit_index >= ?1 AND (?3 IS NULL OR customer_id = ?3)"
                       " ORDER BY audit_index LIMIT ?2",
    [ST_NOTICE_DELETE] = "DELETE FROM notices WHERE audit_index = ?1",
    [ST_ERASURE_PUT] = "INSERT INTO erasure_requests(id, customer_id, status, requested_at,"
                       " decided_by, decided_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
                       " ON CONFLICT(id) DO UPDATE SET status = excluded.status,"
                       " decided_by = excluded.decided_by, decided_at = excluded.decided_at",
    /* by id (?1), else by status (?2, NULL: any) and customer (?3, NULL: any) */
    [ST_ERASURE_LIST] = "SELECT id, customer_id, status, requested_at, decided_by, decided_at"
                        " FROM erasure_requests WHERE (?1 IS NULL OR id = ?1)"
                        " AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR customer_id = ?3)"
                        " ORDER BY requested_at, id",
};

/* A blind row waiting to be inserted, in the blind table's key order. */
struct pending_row {
    int64_t hash; /* as stored: hash_to_i64() */
    int64_t customer;
    uint8_t kind;
};

struct store_sqlite {
    struct store base; /* first member: store_int.h */
    sqlite3 *db;
    sqlite3 *ix; /* the audit look-up index's file, opened on first use */
    char *path;  /* as given, for messages */
    int version;
    sqlite3_stmt *st[ST__COUNT]; /* prepared on first use, finalised by sq_free */
    struct buf blind_enc;        /* the encoded blind list of the customer being written */
    struct store_customer old;   /* replace: the stored row's blind list (only that) */
    struct pending_row *pending; /* blind rows of the open transaction, not yet inserted */
    size_t npending;
    size_t pending_cap;
    /* The audit log's size in the open write transaction, valid while
     * audit_size_known: read at the first append of each transaction
     * (another process may have appended before it), advanced by each
     * append, forgotten when the transaction ends. */
    uint64_t audit_size;
    int audit_size_known;
    /* store_reads_begin(): a deferred transaction holds this connection's
     * reads together until the first write or store_reads_end(). */
    int reads;
};

static struct store_sqlite *sq(struct store *s)
{
    return (struct store_sqlite *)s;
}

/* The uint64 blind hash as SQLite's signed 64-bit integer (two's
 * complement, without relying on implementation-defined conversion). */
static sqlite3_int64 hash_to_i64(uint64_t h)
{
    return h <= (uint64_t)INT64_MAX ? (sqlite3_int64)h : -(sqlite3_int64)(UINT64_MAX - h) - 1;
}

static int db_fail(struct store_sqlite *h, char **errmsg, const char *what)
{
    return cu_errf(errmsg, CU_ERR_STORE, "store: %s: %s", what, sqlite3_errmsg(h->db));
}

static int exec_id(struct store_sqlite *h, enum stmt_id id, const char *what, char **errmsg);

/* Ends a grouping of reads (store_reads_begin), before a write: a write in
 * the read transaction could not take the write lock once another
 * connection had committed after the snapshot (SQLITE_BUSY_SNAPSHOT). */
static void reads_stop(struct store_sqlite *h)
{
    if (!h->reads)
        return;
    h->reads = 0;
    if (exec_id(h, ST_COMMIT, "end of grouped reads", NULL) != CU_OK &&
        !sqlite3_get_autocommit(h->db))
        (void)exec_id(h, ST_ROLLBACK, "end of grouped reads", NULL);
}

/* The cached statement `id`, prepared on first use.  A statement that
 * writes ends a grouping of reads first. */
static int stmt_get(struct store_sqlite *h, enum stmt_id id, sqlite3_stmt **st, const char *what,
                    char **errmsg)
{
    if (h->st[id] == NULL && sqlite3_prepare_v3(h->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                                &h->st[id], NULL) != SQLITE_OK) {
        h->st[id] = NULL;
        *st = NULL;
        return db_fail(h, errmsg, what);
    }
    *st = h->st[id];
    if (h->reads && !sqlite3_stmt_readonly(*st))
        reads_stop(h);
    return CU_OK;
}

/* Steps a bound statement that returns no row we want, then resets it. */
static int stmt_run(struct store_sqlite *h, sqlite3_stmt *st, const char *what, char **errmsg)
{
    int rc = CU_OK;
    int src = sqlite3_step(st);

    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(st);
    return rc;
}

/* Runs the parameterless cached statement `id`. */
static int exec_id(struct store_sqlite *h, enum stmt_id id, const char *what, char **errmsg)
{
    sqlite3_stmt *st;
    int rc = stmt_get(h, id, &st, what, errmsg);

    if (rc != CU_OK)
        return rc;
    return stmt_run(h, st, what, errmsg);
}

/*
 * Atomic scope of a multi-statement operation: a savepoint inside the
 * caller's transaction, or a transaction of its own.  scope_end() releases
 * or commits on rc == CU_OK, and otherwise undoes everything the operation
 * wrote (and nothing the caller wrote before it); it returns the final rc.
 */
enum scope { SCOPE_SAVEPOINT, SCOPE_TRANSACTION };

static int scope_begin(struct store_sqlite *h, enum scope *scope, const char *what, char **errmsg)
{
    reads_stop(h);
    if (!sqlite3_get_autocommit(h->db)) {
        *scope = SCOPE_SAVEPOINT;
        return exec_id(h, ST_SAVEPOINT, what, errmsg);
    }
    *scope = SCOPE_TRANSACTION;
    return exec_id(h, ST_BEGIN, what, errmsg);
}

static int scope_end(struct store_sqlite *h, enum scope scope, int rc, const char *what,
                     char **errmsg)
{
    if (rc == CU_OK) {
        rc = exec_id(h, scope == SCOPE_SAVEPOINT ? ST_RELEASE : ST_COMMIT, what, errmsg);
        if (rc == CU_OK)
            return CU_OK;
    }
    /* Some errors (I/O, disk full) make SQLite roll back the whole
     * transaction itself; then there is nothing left to undo. */
    if (sqlite3_get_autocommit(h->db))
        return rc;
    if (scope == SCOPE_SAVEPOINT) {
        (void)exec_id(h, ST_ROLLBACK_TO, what, NULL);
        (void)exec_id(h, ST_RELEASE, what, NULL);
    } else {
        (void)exec_id(h, ST_ROLLBACK, what, NULL);
    }
    return rc;
}

/* Binds a blob without copying; empty binds NULL (null_if_empty) or X''. */
static int bind_buf(sqlite3_stmt *st, int i, const struct buf *b, int null_if_empty)
{
    if (b->len == 0)
        return null_if_empty ? sqlite3_bind_null(st, i) : sqlite3_bind_zeroblob(st, i, 0);
    return sqlite3_bind_blob64(st, i, b->data, b->len, SQLITE_STATIC);
}

/* Binds ?1..?15 of the customer insert/update (see stmt_sql). */
static int bind_customer(sqlite3_stmt *st, const struct store_customer *c, const struct buf *blind)
{
    int src = SQLITE_OK;
    int f;

    src |= sqlite3_bind_text(st, 1, c->customer_id, -1, SQLITE_STATIC);
    src |= sqlite3_bind_int64(st, 2, c->kek_version);
    src |= sqlite3_bind_int64(st, 3, c->dek_version);
    src |= bind_buf(st, 4, &c->wrapped_dek, 0);
    for (f = 0; f < MODEL_F__COUNT; f++)
        src |= bind_buf(st, 5 + f, &c->sealed[f], 1);
    src |= bind_buf(st, 12, blind, 0);
    src |= sqlite3_bind_int64(st, 13, c->import_run);
    src |= sqlite3_bind_int64(st, 14, c->created_at);
    src |= sqlite3_bind_int64(st, 15, c->updated_at);
    return src;
}

static int pending_cmp(const void *a, const void *b)
{
    const struct pending_row *x = a, *y = b;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->customer > y->customer) - (x->customer < y->customer);
}

/*
 * Inserts the queued blind rows, in key order.  The queue is emptied only
 * once they are all in, so a failed flush can be retried (INSERT OR IGNORE).
 * Rows queued in a transaction that SQLite has since rolled back on its own
 * (after an I/O error, say) are dropped, not inserted outside it.
 */
static int pending_flush(struct store_sqlite *h, const char *what, char **errmsg)
{
    struct pending_row *r;
    sqlite3_stmt *st;
    size_t i;
    int rc;

    if (h->npending == 0)
        return CU_OK;
    if (sqlite3_get_autocommit(h->db)) {
        h->npending = 0;
        return CU_OK;
    }
    rc = stmt_get(h, ST_BLIND_INSERT, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    qsort(h->pending, h->npending, sizeof(*h->pending), pending_cmp);
    for (i = 0; i < h->npending; i++) {
        r = &h->pending[i];
        sqlite3_bind_int(st, 1, r->kind);
        sqlite3_bind_int64(st, 2, r->hash);
        sqlite3_bind_int64(st, 3, r->customer);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_fail(h, errmsg, what);
            break;
        }
        sqlite3_reset(st);
    }
    sqlite3_reset(st);
    if (rc == CU_OK)
        h->npending = 0;
    return rc;
}

/* Queues one blind row per entry of c for customer `id`; cannot fail. */
static void blind_queue(struct store_sqlite *h, const struct store_customer *c, int64_t id)
{
    struct pending_row *r;
    size_t i;

    if (h->npending + c->nblind > h->pending_cap) {
        while (h->npending + c->nblind > h->pending_cap)
            h->pending_cap = h->pending_cap ? h->pending_cap * 2 : 1024;
        h->pending = xrealloc(h->pending, h->pending_cap * sizeof(*h->pending));
    }
    for (i = 0; i < c->nblind; i++) {
        r = &h->pending[h->npending++];
        r->kind = c->blind[i].kind;
        r->hash = hash_to_i64(c->blind[i].hash);
        r->customer = id;
    }
}

/* Inserts one blind row per entry of c for customer `id`, now. */
static int blind_insert_all(struct store_sqlite *h, const struct store_customer *c, int64_t id,
                            const char *what, char **errmsg)
{
    sqlite3_stmt *st;
    size_t i;
    int rc = CU_OK;

    if (c->nblind == 0)
        return CU_OK;
    rc = stmt_get(h, ST_BLIND_INSERT, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 3, id);
    for (i = 0; i < c->nblind; i++) {
        sqlite3_bind_int(st, 1, c->blind[i].kind);
        sqlite3_bind_int64(st, 2, hash_to_i64(c->blind[i].hash));
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_fail(h, errmsg, what);
            break;
        }
        sqlite3_reset(st);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- lifecycle ---- */

static void sq_free(struct store *s)
{
    struct store_sqlite *h = sq(s);
    int i;

    for (i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(h->st[i]);
    /* Closing rolls back a transaction left open. */
    sqlite3_close(h->db);
    sqlite3_close(h->ix);
    free(h->path);
    buf_release(&h->blind_enc);
    store_customer_release(&h->old);
    free(h->pending);
    free(h);
}

/* store_cache_limit: the page cache of the handles opened next, in KiB. */
static _Atomic int64_t cache_kib = 65536;

void store_cache_limit(int64_t bytes)
{
    cache_kib = bytes / 1024 > 64 ? bytes / 1024 : 64;
}

/* Before SQLite's first use: no memory statistics.  Kept, they cost a
 * process-wide mutex on every allocation, which the server's threads
 * fought over (6.5% of its CPU at 64 connections). */
static void sqlite_configure(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_schema_version(struct store *s)
{
    return sq(s)->version;
}

/* Runs a one-off statement whose first column of the first row is an int. */
static int query_int(struct store_sqlite *h, const char *sql, int *out, const char *what,
                     char **errmsg)
{
    sqlite3_stmt *st = NULL;
    int rc = CU_OK;

    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        *out = sqlite3_column_int(st, 0);
        break;
    case SQLITE_DONE:
        *out = 0;
        break;
    default:
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Reads user_version and refuses a database newer than this code. */
static int schema_check(struct store_sqlite *h, int *version, const char *what, char **errmsg)
{
    int rc;

    rc = query_int(h, "PRAGMA user_version", version, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (*version > SCHEMA_VERSION)
        return cu_errf(errmsg, CU_ERR_STORE,
                       "store: \"%s\" has schema version %d, newer than this custodian knows "
                       "(%d): use a newer custodian",
                       h->path, *version, SCHEMA_VERSION);
    return CU_OK;
}

/*
 * Refuses, before changing anything in the file, what this code must not
 * touch: a file that is not a database, another program's database, a
 * store newer than this code.
 */
static int identify(struct store_sqlite *h, const char *what, char **errmsg)
{
    int rc, version, app_id, nobjects;

    rc = query_int(h, "PRAGMA application_id", &app_id, what, errmsg);
    if (rc == CU_OK)
        rc = query_int(h, "SELECT count(*) FROM sqlite_master", &nobjects, what, errmsg);
    if (rc == CU_OK)
        rc = schema_check(h, &version, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if ((app_id != 0 && app_id != SQLITE_APP_ID) || (version == 0 && nobjects > 0))
        return cu_errf(errmsg, CU_ERR_STORE, "store: \"%s\" is not a custodian store", h->path);
    return CU_OK;
}

/* Applies the migrations the database lacks, each in its own transaction. */
static int migrate(struct store_sqlite *h, char **errmsg)
{
    char what[64];
    int rc, version;
    char *sql;

    rc = schema_check(h, &version, "read schema version", errmsg);
    while (rc == CU_OK && version < SCHEMA_VERSION) {
        snprintf(what, sizeof(what), "migrate to schema version %d", version + 1);
        rc = exec_id(h, ST_BEGIN, what, errmsg);
        if (rc != CU_OK)
            break;
        /* Read again inside the write transaction: another process may
         * have migrated while we waited for the lock. */
        rc = schema_check(h, &version, what, errmsg);
        if (rc == CU_OK && version < SCHEMA_VERSION) {
            sql = xasprintf("%s; PRAGMA user_version = %d", migrations[version], version + 1);
            if (sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                rc = db_fail(h, errmsg, what);
            free(sql);
            version++;
        }
        if (rc == CU_OK)
            rc = exec_id(h, ST_COMMIT, what, errmsg);
        if (rc != CU_OK && !sqlite3_get_autocommit(h->db))
            (void)exec_id(h, ST_ROLLBACK, what, NULL);
    }
    if (rc == CU_OK)
        h->version = version;
    return rc;
}

static const struct store_ops sqlite_ops;

int store_sqlite_open(struct store **out, const char *path, char **errmsg)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    struct store_sqlite *h;
    sqlite3_stmt *st = NULL;
    const char *mode;
    char *what = NULL, *pragmas = NULL;
    int rc = CU_OK, fd, memory, wal;

    *out = NULL;
    pthread_once(&configured, sqlite_configure);
    h = xcalloc(1, sizeof(*h));
    h->base.ops = &sqlite_ops;
    h->path = xstrdup(path);
    buf_init(&h->blind_enc);
    store_customer_init(&h->old);

    /* Create the file ourselves so that it is private from the start;
     * SQLite gives the -wal and -shm files the database file's mode. */
    memory = strcmp(path, ":memory:") == 0;
    if (!memory) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        else if (errno != EEXIST) {
            rc = cu_errf(errmsg, CU_ERR_IO, "store: create \"%s\": %s", path, strerror(errno));
            goto out;
        }
    }
    if (sqlite3_open_v2(path, &h->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = cu_errf(errmsg, CU_ERR_STORE, "store: open \"%s\": %s", path,
                     h->db ? sqlite3_errmsg(h->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(h->db, 1);
    sqlite3_busy_handler(h->db, busy_wait, NULL);
    sqlite3_db_config(h->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);

    what = xasprintf("open \"%s\"", path);
    rc = identify(h, what, errmsg);
    if (rc != CU_OK)
        goto out;
    if (sqlite3_prepare_v2(h->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = db_fail(h, errmsg, what);
        goto out;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    wal = mode != NULL && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    st = NULL;
    if (!memory && !wal) {
        rc = cu_errf(errmsg, CU_ERR_STORE,
                     "store: %s: cannot use write-ahead logging on this file system", what);
        goto out;
    }
    /* the page cache's bound (store_cache_limit), whatever the database size */
    pragmas = xasprintf("PRAGMA cache_size = -%lld;"
                        "PRAGMA synchronous = FULL;"
                        /* deleted and replaced content is overwritten with
                         * zeros in its page (store_customer_erase) */
                        "PRAGMA secure_delete = ON;"
                        "PRAGMA foreign_keys = ON;"
                        "PRAGMA temp_store = MEMORY;"
                        /* a commit checkpoints on its own time only past
                         * 8,192 pages (32 MiB) of WAL, not SQLite's 1,000: a
                         * server checkpoints in the background
                         * (store_checkpoint, from the audit log's indexer) */
                        "PRAGMA wal_autocheckpoint = 8192;"
                        /* WAL file truncated back to 64 MiB after a checkpoint */
                        "PRAGMA journal_size_limit = 67108864",
                        (long long)cache_kib);
    if (sqlite3_exec(h->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(h, errmsg, what);
        goto out;
    }
    rc = migrate(h, errmsg);
out:
    sqlite3_finalize(st);
    free(pragmas);
    free(what);
    if (rc != CU_OK) {
        sq_free(&h->base);
        return rc;
    }
    *out = &h->base;
    return CU_OK;
}

/* ---- transactions ---- */

static int sq_begin(struct store *s, char **errmsg)
{
    struct store_sqlite *h = sq(s);

    reads_stop(h);
    if (!sqlite3_get_autocommit(h->db))
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: begin: a transaction is already open");
    h->npending = 0;
    h->audit_size_known = 0;
    return exec_id(h, ST_BEGIN, "begin transaction", errmsg);
}

static int sq_commit(struct store *s, char **errmsg)
{
    struct store_sqlite *h = sq(s);

    int rc;

    if (h->reads || sqlite3_get_autocommit(h->db)) {
        h->npending = 0;
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: commit: no transaction is open");
    }
    rc = pending_flush(h, "commit", errmsg);
    if (rc == CU_OK)
        rc = exec_id(h, ST_COMMIT, "commit", errmsg);
    if (rc == CU_OK)
        h->audit_size_known = 0;
    return rc;
}

static void sq_rollback(struct store *s)
{
    struct store_sqlite *h = sq(s);

    h->npending = 0;
    h->audit_size_known = 0;
    h->reads = 0;
    if (!sqlite3_get_autocommit(h->db))
        (void)exec_id(h, ST_ROLLBACK, "rollback", NULL);
}

static void sq_reads_begin(struct store *s)
{
    struct store_sqlite *h = sq(s);

    /* A failed BEGIN leaves the reads on their own, which is correct too. */
    if (!h->reads && sqlite3_get_autocommit(h->db))
        h->reads = exec_id(h, ST_BEGIN_READ, "group reads", NULL) == CU_OK;
}

static void sq_reads_end(struct store *s)
{
    reads_stop(sq(s));
}

static int sq_checkpoint(struct store *s, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    int rc;

    reads_stop(h);
    rc = sqlite3_wal_checkpoint_v2(h->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    /* BUSY: another checkpoint is running, which does the same work */
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return db_fail(h, errmsg, "checkpoint the write-ahead log");
    return CU_OK;
}

static int sq_commits_relaxed(struct store *s, char **errmsg)
{
    struct store_sqlite *h = sq(s);

    reads_stop(h);
    if (sqlite3_exec(h->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(h, errmsg, "relax commits");
    return CU_OK;
}

/* ---- meta ---- */

static int sq_meta_get(struct store *s, const char *key, char **value, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read setting";
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, ST_META_GET, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        *value = xstrdup((const char *)sqlite3_column_text(st, 0));
        break;
    case SQLITE_DONE:
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: setting \"%s\" is not set", key);
        break;
    default:
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(st);
    return rc;
}

static int sq_meta_set(struct store *s, const char *key, const char *value, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "write setting";
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, ST_META_SET, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return stmt_run(h, st, what, errmsg);
}

/* ---- key-encryption keys ---- */

static int sq_kek_list(struct store *s, struct store_kek **out, size_t *n, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "list key-encryption keys";
    struct store_kek *list = NULL, *k;
    size_t count = 0, cap = 0;
    sqlite3_stmt *st;
    const void *p;
    int rc, src;

    rc = stmt_get(h, ST_KEK_LIST, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 4;
            list = xrealloc(list, cap * sizeof(*list));
        }
        k = &list[count++];
        k->version = (uint32_t)sqlite3_column_int64(st, 0);
        k->state = (enum store_kek_state)sqlite3_column_int(st, 1);
        buf_init(&k->wrapped);
        p = sqlite3_column_blob(st, 2);
        buf_add(&k->wrapped, p, p ? (size_t)sqlite3_column_bytes(st, 2) : 0);
        k->created_at = sqlite3_column_int64(st, 3);
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(h, errmsg, what);
        store_kek_list_free(list, count);
        list = NULL;
        count = 0;
    }
    sqlite3_reset(st);
    *out = list;
    *n = count;
    return rc;
}

static int sq_kek_put(struct store *s, const struct store_kek *k, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "write key-encryption key";
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, ST_KEK_PUT, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, k->version);
    sqlite3_bind_int(st, 2, (int)k->state);
    bind_buf(st, 3, &k->wrapped, 1);
    sqlite3_bind_int64(st, 4, k->created_at ? k->created_at : cu_now());
    return stmt_run(h, st, what, errmsg);
}

/* ---- customers ---- */

/*
 * No savepoint (see the top of the file): the INSERT either writes the row
 * or nothing, a UNIQUE violation included, and queuing the blind rows cannot
 * fail.  Without a caller's transaction it runs in one of its own, the blind
 * rows inserted at once.
 */
static int sq_customer_insert(struct store *s, struct store_customer *c, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "insert customer";
    sqlite3_stmt *st;
    int rc, src, own;
    int64_t id;

    if (c->created_at == 0)
        c->created_at = cu_now();
    if (c->updated_at == 0)
        c->updated_at = c->created_at;
    store_blind_encode(c, &h->blind_enc);
    own = sqlite3_get_autocommit(h->db);
    if (own) {
        h->npending = 0;
        rc = exec_id(h, ST_BEGIN, what, errmsg);
    } else {
        /* A full queue is flushed before anything of this customer is
         * written, so that a failure leaves nothing of it behind. */
        rc = h->npending >= PENDING_MAX ? pending_flush(h, what, errmsg) : CU_OK;
    }
    if (rc != CU_OK)
        return rc;
    rc = stmt_get(h, ST_CUSTOMER_INSERT, &st, what, errmsg);
    if (rc != CU_OK)
        goto out;
    if (bind_customer(st, c, &h->blind_enc) != SQLITE_OK) {
        rc = db_fail(h, errmsg, what);
        sqlite3_reset(st);
        goto out;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_UNIQUE)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "store: %s: the customer id exists", what);
    else if (src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    else if (sqlite3_changes(h->db) == 0)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "store: %s: %s", what, ERASED_AGAIN);
    sqlite3_reset(st);
    if (rc != CU_OK)
        goto out;
    id = sqlite3_last_insert_rowid(h->db);
    if (own)
        rc = blind_insert_all(h, c, id, what, errmsg);
    else
        blind_queue(h, c, id);
    if (rc == CU_OK)
        c->id = id;
out:
    if (own)
        rc = scope_end(h, SCOPE_TRANSACTION, rc, what, errmsg);
    return rc;
}

/*
 * Finds a stored customer (its row id and creation time, when asked) and
 * deletes exactly its blind entries: the table is keyed by hash, not by
 * customer, so they are found through the row's own list (decoded into
 * h->old).  *deleted (when not NULL) counts them.  CU_ERR_NOT_FOUND when
 * there is no such customer.  Inside the caller's transaction.
 */
static int drop_blind(struct store_sqlite *h, const char *customer_id, int64_t *id_out,
                      int64_t *created_at, int64_t *deleted, const char *what, char **errmsg)
{
    sqlite3_stmt *st;
    const void *p;
    int64_t id = 0;
    size_t i;
    int rc, src;

    rc = stmt_get(h, ST_CUSTOMER_LOOKUP, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(st, 1, customer_id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        p = sqlite3_column_blob(st, 1);
        if (store_blind_decode(&h->old, p, p ? (size_t)sqlite3_column_bytes(st, 1) : 0) != CU_OK)
            rc = cu_errf(errmsg, CU_ERR_STORE, "store: %s: corrupt blind list", what);
        if (created_at != NULL)
            *created_at = sqlite3_column_int64(st, 2);
    } else if (src == SQLITE_DONE) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
    } else {
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(st);
    if (rc != CU_OK || h->old.nblind == 0)
        goto out;
    rc = stmt_get(h, ST_BLIND_DELETE, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 3, id);
    for (i = 0; i < h->old.nblind && rc == CU_OK; i++) {
        sqlite3_bind_int(st, 1, h->old.blind[i].kind);
        sqlite3_bind_int64(st, 2, hash_to_i64(h->old.blind[i].hash));
        rc = stmt_run(h, st, what, errmsg);
        if (rc == CU_OK && deleted != NULL)
            *deleted += sqlite3_changes(h->db);
    }
out:
    if (rc == CU_OK && id_out != NULL)
        *id_out = id;
    return rc;
}

static int sq_customer_replace(struct store *s, struct store_customer *c, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "replace customer";
    int64_t id = 0, created_at = 0;
    enum scope scope;
    sqlite3_stmt *st;
    int rc;

    if (c->updated_at == 0)
        c->updated_at = cu_now();
    store_blind_encode(c, &h->blind_enc);
    /* The old entries may still be queued. */
    rc = pending_flush(h, what, errmsg);
    if (rc == CU_OK)
        rc = scope_begin(h, &scope, what, errmsg);
    if (rc != CU_OK)
        return rc;

    /* The stored row (its id and creation time); its blind entries go. */
    rc = drop_blind(h, c->customer_id, &id, &created_at, NULL, what, errmsg);
    if (rc != CU_OK)
        goto out;

    rc = stmt_get(h, ST_CUSTOMER_UPDATE, &st, what, errmsg);
    if (rc != CU_OK)
        goto out;
    if (bind_customer(st, c, &h->blind_enc) != SQLITE_OK ||
        sqlite3_bind_int64(st, 16, id) != SQLITE_OK) {
        rc = db_fail(h, errmsg, what);
        goto out;
    }
    rc = stmt_run(h, st, what, errmsg);
    /* In the caller's transaction the new entries are queued once the
     * savepoint is released (queuing cannot fail); otherwise they go in
     * with the rest. */
    if (rc == CU_OK && scope == SCOPE_TRANSACTION)
        rc = blind_insert_all(h, c, id, what, errmsg);
out:
    rc = scope_end(h, scope, rc, what, errmsg);
    if (rc == CU_OK) {
        if (scope == SCOPE_SAVEPOINT)
            blind_queue(h, c, id);
        c->id = id;
        c->created_at = created_at;
    }
    return rc;
}

/* Copies the current row of a CUSTOMER_COLS query into c. */
static int row_to_customer(sqlite3_stmt *st, struct store_customer *c)
{
    const void *p;
    int f;

    c->id = sqlite3_column_int64(st, 0);
    c->customer_id = xstrdup((const char *)sqlite3_column_text(st, 1));
    c->kek_version = (uint32_t)sqlite3_column_int64(st, 2);
    c->dek_version = (uint32_t)sqlite3_column_int64(st, 3);
    p = sqlite3_column_blob(st, 4);
    buf_add(&c->wrapped_dek, p, p ? (size_t)sqlite3_column_bytes(st, 4) : 0);
    for (f = 0; f < MODEL_F__COUNT; f++) {
        p = sqlite3_column_blob(st, COL_SEALED + f);
        if (p != NULL)
            buf_add(&c->sealed[f], p, (size_t)sqlite3_column_bytes(st, COL_SEALED + f));
    }
    c->import_run = sqlite3_column_int64(st, COL_BLIND + 1);
    c->created_at = sqlite3_column_int64(st, COL_BLIND + 2);
    c->updated_at = sqlite3_column_int64(st, COL_BLIND + 3);
    p = sqlite3_column_blob(st, COL_BLIND);
    return store_blind_decode(c, p, p ? (size_t)sqlite3_column_bytes(st, COL_BLIND) : 0);
}

static int sq_customer_get(struct store *s, const char *customer_id, int64_t id,
                           struct store_customer *c, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read customer";
    sqlite3_stmt *st;
    int rc;

    store_customer_reset(c);
    rc = stmt_get(h, customer_id ? ST_CUSTOMER_GET_CID : ST_CUSTOMER_GET_ID, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (customer_id != NULL)
        sqlite3_bind_text(st, 1, customer_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        if (row_to_customer(st, c) != CU_OK)
            rc = cu_errf(errmsg, CU_ERR_STORE, "store: %s: corrupt blind list", what);
        break;
    case SQLITE_DONE:
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
        break;
    default:
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(st);
    if (rc != CU_OK)
        store_customer_reset(c);
    return rc;
}

/* Runs a cached count query with an optional integer parameter. */
static int count_query(struct store_sqlite *h, enum stmt_id id, int bind, int64_t param, int64_t *n,
                       const char *what, char **errmsg)
{
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, id, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (bind)
        sqlite3_bind_int64(st, 1, param);
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(st);
    return rc;
}

static int sq_customer_count(struct store *s, int64_t *n, char **errmsg)
{
    return count_query(sq(s), ST_CUSTOMER_COUNT, 0, 0, n, "count customers", errmsg);
}

/* Audit indexes, sizes, counts and limits are unsigned in the interface and
 * INTEGER (signed 64-bit) in SQLite: larger values are clamped to INT64_MAX
 * (which no index reaches, and which as a limit means none). */
static sqlite3_int64 u64_clamp(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static int sq_blind_find(struct store *s, uint8_t kind, uint64_t hash, int64_t *ids, size_t max,
                         size_t *n, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "blind index look-up";
    sqlite3_stmt *st;
    size_t count = 0;
    int rc, src = SQLITE_DONE;

    rc = pending_flush(h, what, errmsg);
    if (rc == CU_OK)
        rc = stmt_get(h, ST_BLIND_FIND, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_int64(st, 2, hash_to_i64(hash));
    sqlite3_bind_int64(st, 3, u64_clamp(max));
    while (count < max && (src = sqlite3_step(st)) == SQLITE_ROW)
        ids[count++] = sqlite3_column_int64(st, 0);
    if (count < max && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(st);
    *n = rc == CU_OK ? count : 0;
    return rc;
}

/* ---- data-key rotation ---- */

struct scan_row {
    int64_t id;
    uint32_t kek_version;
    size_t cid_off; /* offsets into the scan's byte buffer */
    size_t dek_off;
    size_t dek_len;
};

static int sq_dek_scan(struct store *s, uint32_t kek_version, int64_t after_id, size_t limit,
                       store_dek_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "scan data keys";
    struct scan_row *rows = NULL, *r;
    struct buf bytes = BUF_INIT;
    size_t count = 0, cap = 0, i;
    sqlite3_stmt *st;
    const void *p;
    int rc, src;

    rc = stmt_get(h, ST_DEK_SCAN, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, after_id);
    sqlite3_bind_int64(st, 2, kek_version);
    sqlite3_bind_int64(st, 3, u64_clamp(limit));
    /* Collect the page first: the callback will typically update these
     * rows (store_dek_update), which must not happen under a running
     * SELECT on the same table. */
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cid = (const char *)sqlite3_column_text(st, 1);

        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            rows = xrealloc(rows, cap * sizeof(*rows));
        }
        r = &rows[count++];
        r->id = sqlite3_column_int64(st, 0);
        r->kek_version = (uint32_t)sqlite3_column_int64(st, 2);
        r->cid_off = bytes.len;
        buf_add(&bytes, cid, strlen(cid) + 1);
        p = sqlite3_column_blob(st, 3);
        r->dek_len = p ? (size_t)sqlite3_column_bytes(st, 3) : 0;
        r->dek_off = bytes.len;
        buf_add(&bytes, p, r->dek_len);
    }
    if (src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(st);
    for (i = 0; i < count && rc == CU_OK; i++) {
        r = &rows[i];
        rc = cb(ctx, r->id, bytes.data + r->cid_off, r->kek_version, bytes.data + r->dek_off,
                r->dek_len);
    }
    free(rows);
    buf_release(&bytes);
    return rc;
}

static int sq_dek_update(struct store *s, int64_t id, uint32_t kek_version, const void *wrapped,
                         size_t len, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "update data key";
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, ST_DEK_UPDATE, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, kek_version);
    if (len == 0)
        sqlite3_bind_zeroblob(st, 2, 0);
    else
        sqlite3_bind_blob64(st, 2, wrapped, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, id);
    rc = stmt_run(h, st, what, errmsg);
    if (rc == CU_OK && sqlite3_changes(h->db) == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such customer", what);
    return rc;
}

static int sq_kek_usage(struct store *s, uint32_t kek_version, int64_t *n, char **errmsg)
{
    return count_query(sq(s), ST_KEK_USAGE, 1, kek_version, n, "count data keys", errmsg);
}

static int sq_kek_hold(struct store *s, uint32_t *active, char **errmsg)
{
    int64_t v = 0;
    int rc =
        count_query(sq(s), ST_KEK_HOLD, 1, STORE_KEK_ACTIVE, &v, "hold the active key", errmsg);

    *active = rc == CU_OK ? (uint32_t)v : 0;
    return rc;
}

/* ---- audit log ---- */

/*
 * A cached statement for a scan that calls back into the caller.  The
 * callback may use the same store, even for the same kind of scan; when the
 * cached statement is already running, a private one is prepared
 * (*own set) and scan_stmt_put() finalises it instead of resetting it.
 */
static int scan_stmt_get(struct store_sqlite *h, enum stmt_id id, sqlite3_stmt **st, int *own,
                         const char *what, char **errmsg)
{
    int rc;

    *own = 0;
    rc = stmt_get(h, id, st, what, errmsg);
    if (rc != CU_OK || !sqlite3_stmt_busy(*st))
        return rc;
    *own = 1;
    if (sqlite3_prepare_v2(h->db, stmt_sql[id], -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return db_fail(h, errmsg, what);
    }
    return CU_OK;
}

static void scan_stmt_put(sqlite3_stmt *st, int own)
{
    if (own)
        sqlite3_finalize(st);
    else
        sqlite3_reset(st);
}

/* The log size now: 1 + the largest index, 0 when empty. */
static int audit_read_size(struct store_sqlite *h, uint64_t *size, const char *what, char **errmsg)
{
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, ST_AUDIT_MAX, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *size = sqlite3_column_type(st, 0) == SQLITE_NULL
                    ? 0
                    : (uint64_t)sqlite3_column_int64(st, 0) + 1;
    else
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(st);
    return rc;
}

/*
 * The durable audit path (group commit: many rows per call, many calls per
 * transaction), so no savepoint (see the top of the file).  The rows are
 * checked against the size before anything is written, so a conflict
 * writes nothing.  One INSERT is atomic on its own; should a later row of
 * the batch fail inside the caller's transaction, the rows already written
 * are deleted again (they are exactly those from the old size up), and if
 * even that fails the whole transaction is rolled back rather than leave
 * part of the batch in it.
 */
static int sq_audit_append(struct store *s, const struct store_audit_row *rows, size_t n,
                           char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "append audit entries";
    const struct store_audit_row *r;
    sqlite3_stmt *st;
    uint64_t size = 0;
    size_t i, written = 0;
    int rc, own;

    own = sqlite3_get_autocommit(h->db);
    if (own) {
        h->npending = 0;
        h->audit_size_known = 0;
        rc = exec_id(h, ST_BEGIN, what, errmsg);
        if (rc != CU_OK)
            return rc;
    }
    if (!h->audit_size_known) {
        rc = audit_read_size(h, &h->audit_size, what, errmsg);
        if (rc != CU_OK)
            goto out;
        h->audit_size_known = 1;
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
    rc = stmt_get(h, ST_AUDIT_INSERT, &st, what, errmsg);
    if (rc != CU_OK)
        goto out;
    for (written = 0; written < n; written++) {
        r = &rows[written];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)r->index);
        sqlite3_bind_int64(st, 2, r->time_ms);
        sqlite3_bind_text(st, 3, r->actor, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 4, r->subject, r->subject_len, SQLITE_STATIC);
        if (r->len == 0)
            sqlite3_bind_zeroblob(st, 5, 0);
        else
            sqlite3_bind_blob64(st, 5, r->leaf, r->len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = db_fail(h, errmsg, what);
            sqlite3_reset(st);
            break;
        }
        sqlite3_reset(st);
    }
    if (rc == CU_OK)
        h->audit_size = size + n;
out:
    if (own) {
        rc = scope_end(h, SCOPE_TRANSACTION, rc, what, errmsg);
        h->audit_size_known = 0;
    } else if (rc != CU_OK && written > 0 && !sqlite3_get_autocommit(h->db)) {
        if (stmt_get(h, ST_AUDIT_UNDO, &st, what, NULL) != CU_OK ||
            sqlite3_bind_int64(st, 1, (sqlite3_int64)size) != SQLITE_OK ||
            stmt_run(h, st, what, NULL) != CU_OK) {
            h->npending = 0;
            h->audit_size_known = 0;
            (void)exec_id(h, ST_ROLLBACK, what, NULL);
        }
    }
    return rc;
}

static int sq_audit_size(struct store *s, uint64_t *size, char **errmsg)
{
    struct store_sqlite *h = sq(s);

    if (h->audit_size_known && !sqlite3_get_autocommit(h->db)) {
        *size = h->audit_size;
        return CU_OK;
    }
    return audit_read_size(h, size, "read audit log size", errmsg);
}

/* Runs a bound AUDIT_COLS query, calling cb for each row. */
static int audit_rows(struct store_sqlite *h, sqlite3_stmt *st, store_audit_cb cb, void *ctx,
                      const char *what, char **errmsg)
{
    struct store_audit_row row;
    int rc = CU_OK, src;

    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        row.index = (uint64_t)sqlite3_column_int64(st, 0);
        row.time_ms = sqlite3_column_int64(st, 1);
        row.actor = (const char *)sqlite3_column_text(st, 2);
        row.subject = sqlite3_column_blob(st, 3);
        row.subject_len = row.subject ? (size_t)sqlite3_column_bytes(st, 3) : 0;
        row.leaf = sqlite3_column_blob(st, 4);
        row.len = (size_t)sqlite3_column_bytes(st, 4);
        if (row.leaf == NULL)
            row.leaf = "";
        rc = cb(ctx, &row);
        if (rc != 0)
            return rc;
    }
    if (src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    return rc;
}

static int sq_audit_scan(struct store *s, uint64_t start, uint64_t end, store_audit_cb cb,
                         void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read audit entries";
    sqlite3_stmt *st;
    int rc, own;

    if (start > (uint64_t)INT64_MAX)
        return CU_OK;
    rc = scan_stmt_get(h, ST_AUDIT_SCAN, &st, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)start);
    sqlite3_bind_int64(st, 2, u64_clamp(end));
    rc = audit_rows(h, st, cb, ctx, what, errmsg);
    scan_stmt_put(st, own);
    return rc;
}

/*
 * ---- the audit look-up index ----
 *
 * Entries are found by staff member and by customer through an index of
 * (key, idx) rows, key 0x01 || actor or 0x02 || subject pseudonym.  Its keys
 * are random, so keeping it costs many B-tree pages per entry: it is built
 * behind the log, in large sorted chunks (store_audit_index), and it lives
 * in a SQLite file of its own (DB-index.db beside DB.db) with a connection
 * of its own.  So a chunk being indexed never holds the log's write lock,
 * and appends never wait for it.  The file holds only derived data: its
 * meta "audit_indexed" is the first entry not indexed, and "audit_log_id"
 * must match the main database's, or the file is emptied and rebuilt (a
 * database restored from a backup, a file copied from elsewhere).  Entries
 * past the watermark are found by scanning the log's tail.
 */
static const char ix_schema[] =
    "CREATE TABLE IF NOT EXISTS audit_index(key BLOB NOT NULL, idx INTEGER NOT NULL,"
    " PRIMARY KEY(key, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

static char *ix_path(const char *path)
{
    size_t n = strlen(path);

    if (n > 3 && strcmp(path + n - 3, ".db") == 0)
        return xasprintf("%.*s-index.db", (int)(n - 3), path);
    return xasprintf("%s-index", path);
}

static int ix_fail(struct store_sqlite *h, char **errmsg, const char *what)
{
    return cu_errf(errmsg, CU_ERR_STORE, "store: %s: %s (the audit index)", what,
                   h->ix ? sqlite3_errmsg(h->ix) : "cannot open");
}

/* Reads meta `key` of the index file into *value (NULL when absent). */
static int ix_meta_get(struct store_sqlite *h, const char *key, char **value, char **errmsg)
{
    sqlite3_stmt *st = NULL;
    int rc = CU_OK, src;

    *value = NULL;
    if (sqlite3_prepare_v2(h->ix, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return ix_fail(h, errmsg, "read the index state");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *value = xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (src != SQLITE_DONE)
        rc = ix_fail(h, errmsg, "read the index state");
    sqlite3_finalize(st);
    return rc;
}

static int ix_meta_set(struct store_sqlite *h, const char *key, const char *value, char **errmsg)
{
    sqlite3_stmt *st = NULL;
    int rc = CU_OK;

    if (sqlite3_prepare_v2(h->ix, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1, &st,
                           NULL) != SQLITE_OK)
        return ix_fail(h, errmsg, "write the index state");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ix_fail(h, errmsg, "write the index state");
    sqlite3_finalize(st);
    return rc;
}

/* Opens the index file on first use, emptying it if it belongs to another
 * log. */
static int ix_open(struct store_sqlite *h, char **errmsg)
{
    char *path, *mine = NULL, *theirs = NULL;
    int rc = CU_OK, fd;

    if (h->ix != NULL)
        return CU_OK;
    if (strcmp(h->path, ":memory:") == 0)
        path = xstrdup(":memory:");
    else {
        path = ix_path(h->path);
        /* Created here so that it is private from the start; O_EXCL, so
         * that no descriptor is ever opened (and closed) on a file another
         * connection of this process may hold locks on: closing any
         * descriptor of a file drops the process's POSIX locks on it. */
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(path, &h->ix,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = ix_fail(h, errmsg, "open");
        goto out;
    }
    sqlite3_busy_handler(h->ix, busy_wait, NULL);
    /* Derived data: a commit lost in a crash is rebuilt from the entries
     * (the watermark commits with the rows), so it need not be synced. */
    if (sqlite3_exec(h->ix,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     "PRAGMA cache_size = -65536; PRAGMA journal_size_limit = 67108864;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(h->ix, ix_schema, NULL, NULL, NULL) != SQLITE_OK) {
        rc = ix_fail(h, errmsg, "set up");
        goto out;
    }
    rc = sq_meta_get(&h->base, "audit_log_id", &mine, errmsg);
    if (rc == CU_OK)
        rc = ix_meta_get(h, "audit_log_id", &theirs, errmsg);
    if (rc == CU_OK && (theirs == NULL || strcmp(mine, theirs) != 0)) {
        if (sqlite3_exec(h->ix, "BEGIN IMMEDIATE; DELETE FROM audit_index; DELETE FROM meta;", NULL,
                         NULL, NULL) != SQLITE_OK)
            rc = ix_fail(h, errmsg, "reset");
        if (rc == CU_OK)
            rc = ix_meta_set(h, "audit_log_id", mine, errmsg);
        if (rc == CU_OK && sqlite3_exec(h->ix, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = ix_fail(h, errmsg, "reset");
        if (rc != CU_OK)
            sqlite3_exec(h->ix, "ROLLBACK", NULL, NULL, NULL);
    }
out:
    if (rc != CU_OK) {
        sqlite3_close(h->ix);
        h->ix = NULL;
    }
    free(mine);
    free(theirs);
    free(path);
    return rc;
}

/* The first entry not yet in the index. */
static int audit_indexed(struct store_sqlite *h, uint64_t *first, char **errmsg)
{
    char *value = NULL;
    int rc = ix_open(h, errmsg);

    *first = 0;
    if (rc == CU_OK)
        rc = ix_meta_get(h, "audit_indexed", &value, errmsg);
    if (rc == CU_OK && value != NULL)
        *first = strtoull(value, NULL, 10);
    free(value);
    return rc;
}

/* Passes rows on to the caller's callback, counting them and checking the
 * filter the index key did not (actor when found by subject). */
struct find_ctx {
    const char *actor;
    store_audit_cb cb;
    void *ctx;
    size_t n;
};

static int find_count(void *arg, const struct store_audit_row *row)
{
    struct find_ctx *fc = arg;

    if (fc->actor != NULL && (row->actor == NULL || strcmp(row->actor, fc->actor) != 0))
        return 0;
    fc->n++;
    return fc->cb(fc->ctx, row);
}

static int sq_audit_find(struct store *s, const char *actor, const unsigned char *subject,
                         size_t subject_len, size_t limit, store_audit_cb cb, void *ctx,
                         char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "find audit entries";
    struct find_ctx fc = {NULL, cb, ctx, 0};
    struct buf key = BUF_INIT;
    sqlite3_stmt *st = NULL, *ix = NULL;
    uint64_t first = 0;
    int rc, own, src;

    if (limit > (size_t)INT64_MAX)
        limit = (size_t)INT64_MAX;
    if (actor == NULL && subject == NULL) {
        rc = scan_stmt_get(h, ST_AUDIT_FIND_ALL, &st, &own, what, errmsg);
        if (rc != CU_OK)
            return rc;
        sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
        rc = audit_rows(h, st, cb, ctx, what, errmsg);
        scan_stmt_put(st, own);
        return rc;
    }
    rc = audit_indexed(h, &first, errmsg);
    if (rc != CU_OK)
        return rc;
    /* Newest first: the tail not indexed yet ... */
    rc = scan_stmt_get(h, ST_AUDIT_FIND_TAIL, &st, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_clear_bindings(st); /* a cached statement keeps the last call's */
    if (actor != NULL)
        sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
    if (subject != NULL)
        sqlite3_bind_blob64(st, 2, subject, subject_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    sqlite3_bind_int64(st, 4, u64_clamp(first));
    rc = audit_rows(h, st, find_count, &fc, what, errmsg);
    scan_stmt_put(st, own);
    if (rc != CU_OK || fc.n >= limit || first == 0)
        return rc;
    /* ... then the index, each entry read from the log. */
    if (subject != NULL) {
        buf_addch(&key, 2);
        buf_add(&key, subject, subject_len);
        fc.actor = actor;
    } else {
        buf_addch(&key, 1);
        buf_addstr(&key, actor);
    }
    if (sqlite3_prepare_v2(h->ix,
                           "SELECT idx FROM audit_index WHERE key = ?1 AND idx < ?2"
                           " ORDER BY idx DESC",
                           -1, &ix, NULL) != SQLITE_OK) {
        rc = ix_fail(h, errmsg, what);
        goto out;
    }
    sqlite3_bind_blob64(ix, 1, key.data, key.len, SQLITE_STATIC);
    sqlite3_bind_int64(ix, 2, u64_clamp(first));
    while (rc == CU_OK && fc.n < limit && (src = sqlite3_step(ix)) == SQLITE_ROW) {
        int64_t idx = sqlite3_column_int64(ix, 0);

        rc = scan_stmt_get(h, ST_AUDIT_SCAN, &st, &own, what, errmsg);
        if (rc != CU_OK)
            break;
        sqlite3_bind_int64(st, 1, idx);
        sqlite3_bind_int64(st, 2, idx + 1);
        rc = audit_rows(h, st, find_count, &fc, what, errmsg);
        scan_stmt_put(st, own);
    }
    if (rc == CU_OK && fc.n < limit && src != SQLITE_DONE)
        rc = ix_fail(h, errmsg, what);
out:
    sqlite3_finalize(ix);
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

static int sq_audit_index(struct store *s, size_t max, uint64_t *watermark, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "index audit entries";
    struct ix_collect c = {NULL, 0, 0};
    uint64_t first = 0, size = 0, end;
    sqlite3_stmt *ins = NULL;
    char num[24];
    size_t i;
    int rc;

    rc = audit_indexed(h, &first, errmsg);
    if (rc == CU_OK)
        rc = audit_read_size(h, &size, what, errmsg);
    if (rc != CU_OK)
        return rc;
    if (first > size) {
        /* The log is shorter than the index says: not this log's index. */
        first = 0;
        if (sqlite3_exec(h->ix, "DELETE FROM audit_index", NULL, NULL, NULL) != SQLITE_OK)
            return ix_fail(h, errmsg, what);
    }
    end = first + max < size ? first + max : size;
    *watermark = first;
    if (end <= first)
        return CU_OK;
    /* Read the chunk from the log (a read: the log's writer never waits),
     * sort it, and insert it in key order in one transaction of the index
     * file. */
    rc = sq_audit_scan(s, first, end, ix_collect_row, &c, errmsg);
    if (rc != CU_OK)
        goto out;
    qsort(c.rows, c.n, sizeof(*c.rows), ix_row_cmp);
    if (sqlite3_exec(h->ix, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->ix, "INSERT OR IGNORE INTO audit_index(key, idx) VALUES(?1, ?2)", -1,
                           &ins, NULL) != SQLITE_OK) {
        rc = ix_fail(h, errmsg, what);
        goto out;
    }
    for (i = 0; rc == CU_OK && i < c.n; i++) {
        sqlite3_bind_blob(ins, 1, c.rows[i].key, (int)c.rows[i].len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, c.rows[i].idx);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = ix_fail(h, errmsg, what);
        sqlite3_reset(ins);
    }
    snprintf(num, sizeof(num), "%llu", (unsigned long long)end);
    if (rc == CU_OK)
        rc = ix_meta_set(h, "audit_indexed", num, errmsg);
    if (rc == CU_OK && sqlite3_exec(h->ix, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = ix_fail(h, errmsg, what);
    if (rc == CU_OK)
        *watermark = end;
out:
    if (rc != CU_OK && h->ix != NULL && !sqlite3_get_autocommit(h->ix))
        sqlite3_exec(h->ix, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    free(c.rows);
    return rc;
}

static int sq_tile_put(struct store *s, unsigned level, uint64_t index, const void *hashes,
                       size_t len, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "write audit tile";
    sqlite3_stmt *st;
    int rc;

    if (index > (uint64_t)INT64_MAX)
        return cu_errf(errmsg, CU_ERR_INVALID, "store: %s: index out of range", what);
    rc = stmt_get(h, ST_TILE_PUT, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    if (len == 0)
        sqlite3_bind_zeroblob(st, 3, 0);
    else
        sqlite3_bind_blob64(st, 3, hashes, len, SQLITE_STATIC);
    return stmt_run(h, st, what, errmsg);
}

static int sq_tile_get(struct store *s, unsigned level, uint64_t index, struct buf *out,
                       char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read audit tile";
    sqlite3_stmt *st;
    const void *p;
    int rc;

    if (index > (uint64_t)INT64_MAX)
        return cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no tile %u/%llu", what, level,
                       (unsigned long long)index);
    rc = stmt_get(h, ST_TILE_GET, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        p = sqlite3_column_blob(st, 0);
        buf_add(out, p, p ? (size_t)sqlite3_column_bytes(st, 0) : 0);
        break;
    case SQLITE_DONE:
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no tile %u/%llu", what, level,
                     (unsigned long long)index);
        break;
    default:
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(st);
    return rc;
}

/*
 * One statement writes (so no transaction is needed): the insert does
 * nothing when the size has a note, which is then compared.  Notes are
 * never deleted, so the one read is the one that blocked the insert.
 */
static int sq_checkpoint_put(struct store *s, uint64_t size, const char *note, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "write checkpoint";
    const char *old;
    sqlite3_stmt *st;
    int rc;

    if (size > (uint64_t)INT64_MAX)
        return cu_errf(errmsg, CU_ERR_INVALID, "store: %s: size out of range", what);
    rc = stmt_get(h, ST_CHECKPOINT_INSERT, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    sqlite3_bind_text(st, 2, note, -1, SQLITE_STATIC);
    rc = stmt_run(h, st, what, errmsg);
    if (rc != CU_OK || sqlite3_changes(h->db) > 0)
        return rc;
    rc = stmt_get(h, ST_CHECKPOINT_GET, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    if (sqlite3_step(st) == SQLITE_ROW) {
        old = (const char *)sqlite3_column_text(st, 0);
        if (old == NULL || strcmp(old, note) != 0)
            rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                         "store: %s: another checkpoint is stored for size %llu", what,
                         (unsigned long long)size);
    } else {
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(st);
    return rc;
}

static int sq_checkpoint_latest(struct store *s, uint64_t *size, char **note, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read latest checkpoint";
    sqlite3_stmt *st;
    int rc;

    rc = stmt_get(h, ST_CHECKPOINT_LATEST, &st, what, errmsg);
    if (rc != CU_OK)
        return rc;
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        *size = (uint64_t)sqlite3_column_int64(st, 0);
        *note = xstrdup((const char *)sqlite3_column_text(st, 1));
        break;
    case SQLITE_DONE:
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no checkpoint is stored", what);
        break;
    default:
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(st);
    return rc;
}

static int sq_checkpoint_scan(struct store *s, store_checkpoint_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read checkpoints";
    sqlite3_stmt *st;
    int rc, own, src;

    rc = scan_stmt_get(h, ST_CHECKPOINT_SCAN, &st, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        rc = cb(ctx, (uint64_t)sqlite3_column_int64(st, 0),
                (const char *)sqlite3_column_text(st, 1));
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    scan_stmt_put(st, own);
    return rc;
}

/* ---- staff accounts ---- */

static int sq_staff_put(struct store *s, const struct store_staff *st, int create, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = create ? "add staff account" : "update staff account";
    int64_t now = cu_now();
    sqlite3_stmt *q;
    int rc, src;

    rc = stmt_get(h, create ? ST_STAFF_INSERT : ST_STAFF_UPDATE, &q, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, st->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, st->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, st->store, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, st->password_hash, -1, SQLITE_STATIC);
    bind_buf(q, 5, &st->totp_sealed, 1);
    sqlite3_bind_int64(q, 6, st->totp_last_step);
    sqlite3_bind_int(q, 7, st->must_change_password != 0);
    sqlite3_bind_int(q, 8, st->suspended != 0);
    sqlite3_bind_int(q, 9, st->failed_logins);
    sqlite3_bind_int64(q, 10, st->locked_until);
    sqlite3_bind_int64(q, 11, st->created_at ? st->created_at : now);
    sqlite3_bind_int64(q, 12, now);
    src = sqlite3_step(q);
    if ((src & 0xff) == SQLITE_CONSTRAINT && create)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "staff account '%s' exists already", st->username);
    else if (src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    else if (!create && sqlite3_changes(h->db) == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no staff account '%s'", st->username);
    sqlite3_reset(q);
    return rc;
}

static char *col_text(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    return xstrdup(t ? (const char *)t : "");
}

static void staff_row(sqlite3_stmt *q, struct store_staff *st)
{
    const void *p;

    store_staff_release(st);
    st->username = col_text(q, 0);
    st->role = col_text(q, 1);
    st->store = col_text(q, 2);
    st->password_hash = col_text(q, 3);
    p = sqlite3_column_blob(q, 4);
    buf_add(&st->totp_sealed, p, p ? (size_t)sqlite3_column_bytes(q, 4) : 0);
    st->totp_last_step = sqlite3_column_int64(q, 5);
    st->must_change_password = sqlite3_column_int(q, 6);
    st->suspended = sqlite3_column_int(q, 7);
    st->failed_logins = sqlite3_column_int(q, 8);
    st->locked_until = sqlite3_column_int64(q, 9);
    st->created_at = sqlite3_column_int64(q, 10);
    st->updated_at = sqlite3_column_int64(q, 11);
}

static int sq_staff_get(struct store *s, const char *username, struct store_staff *out,
                        char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read staff account";
    sqlite3_stmt *q;
    int rc, src;

    rc = stmt_get(h, ST_STAFF_GET, &q, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, username, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW)
        staff_row(q, out);
    else if (src == SQLITE_DONE)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no staff account '%.64s'", username);
    else
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(q);
    return rc;
}

static int sq_staff_list(struct store *s, store_staff_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "list staff accounts";
    struct store_staff st;
    sqlite3_stmt *q;
    int rc, src, own;

    rc = scan_stmt_get(h, ST_STAFF_LIST, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    store_staff_init(&st);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        staff_row(q, &st);
        rc = cb(ctx, &st);
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    store_staff_release(&st);
    scan_stmt_put(q, own);
    return rc;
}

/* ---- sessions and throttling ---- */

static int sq_session_put(struct store *s, const struct store_session *ss, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "add session";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SESSION_PUT, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_blob(q, 1, ss->token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ss->username, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, ss->created_at);
    sqlite3_bind_int64(q, 4, ss->last_seen);
    sqlite3_bind_int64(q, 5, ss->expires_at);
    return stmt_run(h, q, what, errmsg);
}

static int sq_session_get(struct store *s, const unsigned char token_hash[32],
                          struct store_session *out, struct store_staff *staff, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read session";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SESSION_GET, &q, what, errmsg), src;

    if (rc != CU_OK)
        return rc;
    store_session_release(out);
    sqlite3_bind_blob(q, 1, token_hash, 32, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        staff_row(q, staff);
        memcpy(out->token_hash, token_hash, 32);
        out->username = xstrdup(staff->username);
        out->created_at = sqlite3_column_int64(q, STAFF_NCOLS);
        out->last_seen = sqlite3_column_int64(q, STAFF_NCOLS + 1);
        out->expires_at = sqlite3_column_int64(q, STAFF_NCOLS + 2);
    } else if (src == SQLITE_DONE) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no such session");
    } else {
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(q);
    return rc;
}

/* Runs a session statement bound with (?1 blob or text, ?2 int). */
static int session_exec(struct store *s, enum stmt_id id, const void *key, int key_is_text,
                        int64_t value, const char *what, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    sqlite3_stmt *q;
    int rc = stmt_get(h, id, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    if (key_is_text)
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    else
        sqlite3_bind_blob(q, 1, key, 32, SQLITE_STATIC);
    if (id == ST_SESSION_TOUCH)
        sqlite3_bind_int64(q, 2, value);
    return stmt_run(h, q, what, errmsg);
}

static int sq_session_touch(struct store *s, const unsigned char token_hash[32], int64_t last_seen,
                            char **errmsg)
{
    return session_exec(s, ST_SESSION_TOUCH, token_hash, 0, last_seen, "touch session", errmsg);
}

static int sq_session_delete(struct store *s, const unsigned char token_hash[32], char **errmsg)
{
    return session_exec(s, ST_SESSION_DELETE, token_hash, 0, 0, "delete session", errmsg);
}

static int sq_session_delete_user(struct store *s, const char *username, char **errmsg)
{
    return session_exec(s, ST_SESSION_DELETE_USER, username, 1, 0, "revoke sessions", errmsg);
}

static int sq_throttle_get(struct store *s, const char *client, int64_t *failures,
                           int64_t *window_start, int64_t *locked_until, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read log-in throttle";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_THROTTLE_GET, &q, what, errmsg), src;

    if (rc != CU_OK)
        return rc;
    *failures = *window_start = *locked_until = 0;
    sqlite3_bind_text(q, 1, client, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        *failures = sqlite3_column_int64(q, 0);
        *window_start = sqlite3_column_int64(q, 1);
        *locked_until = sqlite3_column_int64(q, 2);
    } else if (src != SQLITE_DONE) {
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(q);
    return rc;
}

static int sq_throttle_put(struct store *s, const char *client, int64_t failures,
                           int64_t window_start, int64_t locked_until, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "write log-in throttle";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_THROTTLE_PUT, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, failures);
    sqlite3_bind_int64(q, 3, window_start);
    sqlite3_bind_int64(q, 4, locked_until);
    return stmt_run(h, q, what, errmsg);
}

/* ---- cases ---- */

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(q, i);
    else
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static char *col_text_or_null(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    return t ? xstrdup((const char *)t) : NULL;
}

static int sq_case_put(struct store *s, const struct store_case *c, int create, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = create ? "add case" : "update case";
    sqlite3_stmt *q;
    int rc, src;

    rc = stmt_get(h, create ? ST_CASE_INSERT : ST_CASE_UPDATE, &q, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
    if (create) {
        sqlite3_bind_text(q, 2, c->purpose, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, c->customer_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, c->requester, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, c->requester_role, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, c->store, -1, SQLITE_STATIC);
        bind_text_or_null(q, 8, c->reason);
        sqlite3_bind_int64(q, 13, c->created_at);
        sqlite3_bind_int64(q, 15, c->expires_at);
    }
    sqlite3_bind_text(q, 7, c->status, -1, SQLITE_STATIC);
    bind_text_or_null(q, 9, c->approver);
    if (c->has_code)
        sqlite3_bind_blob(q, 10, c->code_hash, 32, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 10);
    sqlite3_bind_int64(q, 11, c->code_expires_at);
    sqlite3_bind_int(q, 12, c->code_tries);
    sqlite3_bind_int64(q, 14, c->updated_at);
    bind_text_or_null(q, 16, c->cosigned_by);
    sqlite3_bind_int64(q, 17, c->cosign_until);
    src = sqlite3_step(q);
    if ((src & 0xff) == SQLITE_CONSTRAINT && create)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "case '%s' exists already", c->id);
    else if (src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    else if (!create && sqlite3_changes(h->db) == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no case '%s'", c->id);
    sqlite3_reset(q);
    return rc;
}

/* A case from a row of CASE_COLS (into a released `out`). */
static void case_row(sqlite3_stmt *q, struct store_case *out)
{
    out->id = col_text(q, 0);
    out->purpose = col_text(q, 1);
    out->customer_id = col_text(q, 2);
    out->requester = col_text(q, 3);
    out->requester_role = col_text(q, 4);
    out->store = col_text(q, 5);
    out->status = col_text(q, 6);
    out->reason = col_text_or_null(q, 7);
    out->approver = col_text_or_null(q, 8);
    out->has_code = sqlite3_column_bytes(q, 9) == 32;
    if (out->has_code)
        memcpy(out->code_hash, sqlite3_column_blob(q, 9), 32);
    out->code_expires_at = sqlite3_column_int64(q, 10);
    out->code_tries = sqlite3_column_int(q, 11);
    out->created_at = sqlite3_column_int64(q, 12);
    out->updated_at = sqlite3_column_int64(q, 13);
    out->expires_at = sqlite3_column_int64(q, 14);
    out->cosigned_by = col_text_or_null(q, 15);
    out->cosign_until = sqlite3_column_int64(q, 16);
}

static int sq_case_get(struct store *s, const char *id, struct store_case *out, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read case";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_CASE_GET, &q, what, errmsg), src;

    if (rc != CU_OK)
        return rc;
    store_case_release(out);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        case_row(q, out);
    } else if (src == SQLITE_DONE) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no case '%.64s'", id);
    } else {
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(q);
    return rc;
}

static int sq_case_list(struct store *s, const char *status, size_t limit, store_case_cb cb,
                        void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "list cases";
    struct store_case c = {0};
    sqlite3_stmt *q = NULL;
    int rc = CU_OK, src;

    /* A statement of its own: the callback may use the store. */
    if (sqlite3_prepare_v2(h->db,
                           "SELECT " CASE_COLS " FROM cases WHERE status = ?1"
                           " ORDER BY created_at, id LIMIT ?2",
                           -1, &q, NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    sqlite3_bind_text(q, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, u64_clamp(limit));
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        store_case_release(&c);
        case_row(q, &c);
        if (cb(ctx, &c) != 0)
            break;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    store_case_release(&c);
    sqlite3_finalize(q);
    return rc;
}

static int sq_case_take_try(struct store *s, const char *id, int max, int *tries, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "count a code try";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_CASE_TRY, &q, what, errmsg), src;

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, max);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        *tries = sqlite3_column_int(q, 0);
        src = sqlite3_step(q);
    } else if (src == SQLITE_DONE) {
        rc = cu_errf(errmsg, CU_ERR_LIMIT, "no code tries left");
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(q);
    return rc;
}

/* ---- outbox ---- */

/* Binds ?2..?11 of OUTBOX_COLS (?1, the id, only for mark). */
static void bind_message(sqlite3_stmt *q, const struct store_message *m)
{
    sqlite3_bind_text(q, 2, m->customer_id, -1, SQLITE_STATIC);
    bind_text_or_null(q, 3, m->case_id);
    sqlite3_bind_text(q, 4, m->channel, -1, SQLITE_STATIC);
    bind_buf(q, 5, &m->sealed, 0);
    sqlite3_bind_text(q, 6, m->status, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 7, m->attempts);
    sqlite3_bind_int64(q, 8, m->next_attempt_at);
    bind_text_or_null(q, 9, m->last_error);
    sqlite3_bind_int64(q, 10, m->created_at);
    sqlite3_bind_int64(q, 11, m->delivered_at);
}

static int sq_outbox_add(struct store *s, const struct store_message *m, int64_t *id, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "add an outbox message";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_OUTBOX_ADD, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    bind_message(q, m);
    rc = stmt_run(h, q, what, errmsg);
    if (rc == CU_OK)
        *id = sqlite3_last_insert_rowid(h->db);
    return rc;
}

static int sq_outbox_scan(struct store *s, int64_t after_id, int64_t due, size_t limit,
                          store_message_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read the outbox";
    struct store_message m;
    sqlite3_stmt *q;
    const void *p;
    int rc, src, own;

    rc = scan_stmt_get(h, ST_OUTBOX_SCAN, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(q, 1, after_id);
    sqlite3_bind_int64(q, 2, due);
    sqlite3_bind_int64(q, 3, u64_clamp(limit));
    store_message_init(&m);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        store_message_release(&m);
        m.id = sqlite3_column_int64(q, 0);
        m.customer_id = col_text(q, 1);
        m.case_id = col_text_or_null(q, 2);
        m.channel = col_text(q, 3);
        p = sqlite3_column_blob(q, 4);
        buf_add(&m.sealed, p, p ? (size_t)sqlite3_column_bytes(q, 4) : 0);
        m.status = col_text(q, 5);
        m.attempts = sqlite3_column_int(q, 6);
        m.next_attempt_at = sqlite3_column_int64(q, 7);
        m.last_error = col_text_or_null(q, 8);
        m.created_at = sqlite3_column_int64(q, 9);
        m.delivered_at = sqlite3_column_int64(q, 10);
        rc = cb(ctx, &m);
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    store_message_release(&m);
    scan_stmt_put(q, own);
    return rc;
}

static int sq_outbox_mark(struct store *s, const struct store_message *m, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "record an outbox delivery";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_OUTBOX_MARK, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(q, 1, m->id);
    bind_message(q, m);
    return stmt_run(h, q, what, errmsg);
}

static int sq_outbox_expire(struct store *s, int64_t before, size_t limit, size_t *deleted,
                            char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "expire outbox messages";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_OUTBOX_EXPIRE, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, u64_clamp(limit));
    rc = stmt_run(h, q, what, errmsg);
    if (rc == CU_OK)
        *deleted = (size_t)sqlite3_changes(h->db);
    return rc;
}

/* ---- insider detection ---- */

static int sq_detect_add(struct store *s, const struct store_count *c, size_t n, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "update detection counters";
    sqlite3_stmt *q;
    size_t i;
    int rc = stmt_get(h, ST_DETECT_ADD, &q, what, errmsg);

    for (i = 0; rc == CU_OK && i < n; i++) {
        sqlite3_bind_text(q, 1, c[i].staff, -1, SQLITE_STATIC);
        sqlite3_bind_int(q, 2, c[i].metric);
        sqlite3_bind_int64(q, 3, c[i].bucket);
        sqlite3_bind_int64(q, 4, c[i].n);
        rc = stmt_run(h, q, what, errmsg);
    }
    return rc;
}

static int sq_detect_rows(struct store *s, const char *staff, store_count_cb cb, void *ctx,
                          char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read detection counters";
    struct store_count c = {staff, 0, 0, 0};
    sqlite3_stmt *q;
    int rc, own, src;

    rc = scan_stmt_get(h, ST_DETECT_ROWS, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, staff, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        c.metric = sqlite3_column_int(q, 0);
        c.bucket = sqlite3_column_int64(q, 1);
        c.n = sqlite3_column_int64(q, 2);
        rc = cb(ctx, &c);
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    scan_stmt_put(q, own);
    return rc;
}

static int sq_detect_prune(struct store *s, const char *staff, const int64_t first_kept[3],
                           char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "prune detection counters";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_DETECT_PRUNE, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, staff, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, first_kept[0]);
    sqlite3_bind_int64(q, 3, first_kept[1]);
    sqlite3_bind_int64(q, 4, first_kept[2]);
    return stmt_run(h, q, what, errmsg);
}

static int sq_alert_add(struct store *s, const struct store_alert *a, int64_t *id, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "add an alert";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_ALERT_ADD, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(q, 1, a->created_at);
    sqlite3_bind_text(q, 2, a->staff, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, a->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, a->severity, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, a->detail, -1, SQLITE_STATIC);
    if (a->audit_index >= 0)
        sqlite3_bind_int64(q, 6, a->audit_index);
    else
        sqlite3_bind_null(q, 6);
    bind_text_or_null(q, 7, a->evidence);
    rc = stmt_run(h, q, what, errmsg);
    if (rc == CU_OK)
        *id = sqlite3_last_insert_rowid(h->db);
    return rc;
}

static int sq_alert_list(struct store *s, const char *status, size_t limit, store_alert_cb cb,
                         void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "list alerts";
    struct store_alert a;
    sqlite3_stmt *q;
    int rc, own, src;

    rc = scan_stmt_get(h, ST_ALERT_LIST, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    bind_text_or_null(q, 1, status);
    sqlite3_bind_int64(q, 2, u64_clamp(limit));
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        a.id = sqlite3_column_int64(q, 0);
        a.created_at = sqlite3_column_int64(q, 1);
        a.staff = (const char *)sqlite3_column_text(q, 2);
        a.rule = (const char *)sqlite3_column_text(q, 3);
        a.severity = (const char *)sqlite3_column_text(q, 4);
        a.detail = (const char *)sqlite3_column_text(q, 5);
        a.audit_index = sqlite3_column_type(q, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 6);
        a.status = (const char *)sqlite3_column_text(q, 7);
        a.acked_by = (const char *)sqlite3_column_text(q, 8);
        a.acked_at = sqlite3_column_int64(q, 9);
        a.evidence = (const char *)sqlite3_column_text(q, 10);
        rc = cb(ctx, &a);
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    scan_stmt_put(q, own);
    return rc;
}

static int sq_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "acknowledge an alert";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_ALERT_ACK, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_text(q, 2, by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, at);
    rc = stmt_run(h, q, what, errmsg);
    if (rc == CU_OK && sqlite3_changes(h->db) == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no open alert %lld", (long long)id);
    return rc;
}

static int sq_recent_add(struct store *s, const struct store_recent *r, size_t n, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "record a look-up neighbourhood";
    sqlite3_stmt *q;
    size_t i;
    int rc = CU_OK;

    for (i = 0; i < n && rc == CU_OK; i++) {
        rc = stmt_get(h, ST_RECENT_ADD, &q, what, errmsg);
        if (rc != CU_OK)
            break;
        sqlite3_bind_text(q, 1, r[i].staff, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, r[i].t);
        sqlite3_bind_blob(q, 3, r[i].key, (int)r[i].len, SQLITE_STATIC);
        rc = stmt_run(h, q, what, errmsg);
    }
    return rc;
}

static int sq_recent_rows(struct store *s, const char *staff, int64_t after, int64_t since,
                          size_t limit, store_recent_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read look-up neighbourhoods";
    sqlite3_stmt *q;
    int rc, own, src;

    rc = scan_stmt_get(h, ST_RECENT_ROWS, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, staff, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int64(q, 3, since);
    sqlite3_bind_int64(q, 4, u64_clamp(limit));
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        rc = cb(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
                sqlite3_column_blob(q, 2), (size_t)sqlite3_column_bytes(q, 2));
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    scan_stmt_put(q, own);
    return rc;
}

static int sq_recent_prune(struct store *s, const char *staff, int64_t before, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "prune look-up neighbourhoods";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_RECENT_PRUNE, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, staff, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, before);
    return stmt_run(h, q, what, errmsg);
}

static int sq_detect_peers(struct store *s, const char *role, const char *store, int metric,
                           int64_t bucket, store_count_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read peers' counters";
    struct store_count c = {NULL, metric, bucket, 0};
    sqlite3_stmt *q;
    int rc, own, src;

    rc = scan_stmt_get(h, ST_DETECT_PEERS, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, store, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, metric);
    sqlite3_bind_int64(q, 4, bucket);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        c.staff = (const char *)sqlite3_column_text(q, 0);
        c.n = sqlite3_column_int64(q, 1);
        rc = cb(ctx, &c);
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    scan_stmt_put(q, own);
    return rc;
}

static int sq_detect_store_days(struct store *s, const char *store, int metric, int64_t from,
                                store_count_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read a store's counters";
    struct store_count c = {store, metric, 0, 0};
    sqlite3_stmt *q;
    int rc, own, src;

    rc = scan_stmt_get(h, ST_DETECT_STORE_DAYS, &q, &own, what, errmsg);
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, store, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, metric);
    sqlite3_bind_int64(q, 3, from);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        c.bucket = sqlite3_column_int64(q, 0);
        c.n = sqlite3_column_int64(q, 1);
        rc = cb(ctx, &c);
        if (rc != 0)
            break;
    }
    if (rc == CU_OK && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    scan_stmt_put(q, own);
    return rc;
}

static int sq_canary(struct store *s, const unsigned char tag[16], int add, int *has, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = add ? "add a canary" : "look for a canary";
    sqlite3_stmt *q;
    int rc = stmt_get(h, add ? ST_CANARY_ADD : ST_CANARY_HAS, &q, what, errmsg), src;

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_blob(q, 1, tag, 16, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (!add && has != NULL)
        *has = src == SQLITE_ROW;
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(q);
    return rc;
}

/*
 * ---- erasure ----
 *
 * The erase runs rarely, so its statements are prepared per call rather
 * than cached.  The connection has secure_delete on (store_sqlite_open):
 * every cell deleted here is overwritten with zeros in its page, and freed
 * pages are zeroed, so the only copies left are older frames in the WAL,
 * which store_scrub() removes.
 */

/* Runs `sql` with ?1 customer_id and ?2 `t`; adds the rows it changed to
 * *changed (when not NULL). */
static int erase_exec(struct store_sqlite *h, const char *sql, const char *customer_id, int64_t t,
                      int64_t *changed, const char *what, char **errmsg)
{
    sqlite3_stmt *st = NULL;
    int rc = CU_OK;

    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    sqlite3_bind_text(st, 1, customer_id, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, t);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    else if (changed != NULL)
        *changed += sqlite3_changes(h->db);
    sqlite3_finalize(st);
    return rc;
}

static int sq_customer_erase(struct store *s, const char *customer_id, int64_t erased_at,
                             struct store_erase_result *res, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "erase customer";
    enum scope scope;
    int rc;

    memset(res, 0, sizeof(*res));
    if (erased_at == 0)
        erased_at = cu_now();
    /* Its blind rows may still be queued. */
    rc = pending_flush(h, what, errmsg);
    if (rc == CU_OK)
        rc = scope_begin(h, &scope, what, errmsg);
    if (rc != CU_OK)
        return rc;

    rc = drop_blind(h, customer_id, NULL, NULL, &res->blind, what, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = erase_exec(h, "DELETE FROM customers WHERE customer_id = ?1", customer_id, 0, NULL, what,
                    errmsg);
    if (rc == CU_OK)
        rc = erase_exec(h, "DELETE FROM outbox WHERE customer_id = ?1", customer_id, 0,
                        &res->messages, what, errmsg);
    /* the customer portal's state: sign-in codes, sessions, the notice
     * setting and notices not sent yet */
    if (rc == CU_OK)
        rc = erase_exec(h, "DELETE FROM subject_codes WHERE customer_id = ?1", customer_id, 0, NULL,
                        what, errmsg);
    if (rc == CU_OK)
        rc = erase_exec(h, "DELETE FROM subject_sessions WHERE customer_id = ?1", customer_id, 0,
                        NULL, what, errmsg);
    if (rc == CU_OK)
        rc = erase_exec(h, "DELETE FROM subject_prefs WHERE customer_id = ?1", customer_id, 0, NULL,
                        what, errmsg);
    if (rc == CU_OK)
        rc = erase_exec(h, "DELETE FROM notices WHERE customer_id = ?1", customer_id, 0, NULL, what,
                        errmsg);
    if (rc == CU_OK)
        rc = erase_exec(h,
                        "UPDATE cases SET status = 'closed', updated_at = ?2"
                        " WHERE customer_id = ?1 AND status <> 'closed'",
                        customer_id, erased_at, &res->cases, what, errmsg);
    if (rc == CU_OK)
        rc = erase_exec(h,
                        "INSERT INTO erased(customer_id, erased_at) VALUES(?1, ?2)"
                        " ON CONFLICT(customer_id) DO UPDATE SET erased_at = excluded.erased_at",
                        customer_id, erased_at, NULL, what, errmsg);
out:
    return scope_end(h, scope, rc, what, errmsg);
}

static int sq_erased_get(struct store *s, const char *customer_id, int64_t *erased_at,
                         char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read erasure";
    sqlite3_stmt *st = NULL;
    int rc = CU_OK;

    if (sqlite3_prepare_v2(h->db, "SELECT erased_at FROM erased WHERE customer_id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    sqlite3_bind_text(st, 1, customer_id, -1, SQLITE_STATIC);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        *erased_at = sqlite3_column_int64(st, 0);
        break;
    case SQLITE_DONE:
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: the customer was not erased", what);
        break;
    default:
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * A TRUNCATE checkpoint: every frame of the WAL is copied into the database
 * file, which is synced, and the WAL is cut to zero bytes.  It waits (the
 * busy timeout) for writers to finish and for readers to move to the
 * newest snapshot; if they do not, SQLite copies what it can and answers
 * SQLITE_BUSY, and the log keeps its frames until a later scrub.
 */
static int sq_scrub(struct store *s, int *complete, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    int src, nlog = 0, nckpt = 0;

    *complete = 0;
    if (!sqlite3_get_autocommit(h->db))
        return cu_errf(errmsg, CU_ERR_INTERNAL, "store: scrub: a transaction is open");
    src = sqlite3_wal_checkpoint_v2(h->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
    if (src == SQLITE_OK) {
        *complete = 1;
        return CU_OK;
    }
    if ((src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED)
        return CU_OK;
    return db_fail(h, errmsg, "checkpoint the write-ahead log");
}

/* ---- the customer portal ---- */

/* Runs a prepared statement that binds ?1 as text (and nothing else). */
static int run_text(struct store_sqlite *h, enum stmt_id id, const char *text, const char *what,
                    char **errmsg)
{
    sqlite3_stmt *q;
    int rc = stmt_get(h, id, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
    return stmt_run(h, q, what, errmsg);
}

static void code_row(sqlite3_stmt *q, struct store_subject_code *c)
{
    const void *p = sqlite3_column_blob(q, 0);

    memset(c, 0, sizeof(*c));
    if (p != NULL && sqlite3_column_bytes(q, 0) == (int)sizeof(c->hash))
        memcpy(c->hash, p, sizeof(c->hash));
    c->sent_at = sqlite3_column_int64(q, 1);
    c->expires_at = sqlite3_column_int64(q, 2);
    c->tries = sqlite3_column_int(q, 3);
}

static int sq_subject_code_put(struct store *s, const char *customer_id,
                               const unsigned char hash[32], int64_t sent_at, int64_t expires_at,
                               char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "store a sign-in code";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SCODE_PUT, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, customer_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, sent_at);
    sqlite3_bind_int64(q, 4, expires_at);
    return stmt_run(h, q, what, errmsg);
}

/* get (take 0) or take a try (take 1, at most `max`). */
static int subject_code(struct store *s, const char *customer_id, int take, int max,
                        struct store_subject_code *c, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = take ? "count a sign-in code try" : "read a sign-in code";
    sqlite3_stmt *q;
    int rc = stmt_get(h, take ? ST_SCODE_TRY : ST_SCODE_GET, &q, what, errmsg), src;

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, customer_id, -1, SQLITE_STATIC);
    if (take)
        sqlite3_bind_int(q, 2, max);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        code_row(q, c);
        src = sqlite3_step(q);
        if (src != SQLITE_DONE)
            rc = db_fail(h, errmsg, what);
    } else if (src != SQLITE_DONE) {
        rc = db_fail(h, errmsg, what);
    } else if (!take) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no sign-in code");
    }
    sqlite3_reset(q);
    if (rc == CU_OK && take && src == SQLITE_DONE && c->tries == 0) {
        /* nothing taken: no code, or no try left */
        struct store_subject_code old;

        rc = subject_code(s, customer_id, 0, 0, &old, errmsg);
        if (rc == CU_OK)
            rc = cu_errf(errmsg, CU_ERR_LIMIT, "no tries left for this code");
    }
    return rc;
}

static int sq_subject_code_get(struct store *s, const char *customer_id,
                               struct store_subject_code *c, char **errmsg)
{
    return subject_code(s, customer_id, 0, 0, c, errmsg);
}

static int sq_subject_code_take(struct store *s, const char *customer_id, int max,
                                struct store_subject_code *c, char **errmsg)
{
    memset(c, 0, sizeof(*c));
    return subject_code(s, customer_id, 1, max, c, errmsg);
}

static int sq_subject_code_delete(struct store *s, const char *customer_id, char **errmsg)
{
    return run_text(sq(s), ST_SCODE_DELETE, customer_id, "delete a sign-in code", errmsg);
}

static int sq_subject_session_put(struct store *s, const unsigned char token_hash[32],
                                  const char *customer_id, int64_t created_at, int64_t expires_at,
                                  char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "store a customer session";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SSESSION_PUT, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_blob(q, 1, token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, customer_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, created_at);
    sqlite3_bind_int64(q, 4, expires_at);
    return stmt_run(h, q, what, errmsg);
}

static int sq_subject_session_get(struct store *s, const unsigned char token_hash[32],
                                  char **customer_id, int64_t *expires_at, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read a customer session";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SSESSION_GET, &q, what, errmsg), src;

    *customer_id = NULL;
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_blob(q, 1, token_hash, 32, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        *customer_id = xstrdup((const char *)sqlite3_column_text(q, 0));
        *expires_at = sqlite3_column_int64(q, 1);
    } else if (src == SQLITE_DONE) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no such session");
    } else {
        rc = db_fail(h, errmsg, what);
    }
    sqlite3_reset(q);
    return rc;
}

static int sq_subject_session_delete(struct store *s, const unsigned char token_hash[32],
                                     char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "delete a customer session";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SSESSION_DELETE, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_blob(q, 1, token_hash, 32, SQLITE_STATIC);
    return stmt_run(h, q, what, errmsg);
}

static int sq_subject_digest_get(struct store *s, const char *customer_id, int *daily,
                                 char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read a notice setting";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SPREF_GET, &q, what, errmsg), src;

    *daily = 0;
    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, customer_id, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW)
        *daily = sqlite3_column_int(q, 0) != 0;
    else if (src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_reset(q);
    return rc;
}

static int sq_subject_digest_put(struct store *s, const char *customer_id, int daily, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "store a notice setting";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_SPREF_PUT, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, customer_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, daily != 0);
    return stmt_run(h, q, what, errmsg);
}

static int sq_notice_add(struct store *s, const struct store_notice *notices, size_t n,
                         char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "queue access notices";
    sqlite3_stmt *q;
    size_t i;
    int rc = stmt_get(h, ST_NOTICE_ADD, &q, what, errmsg);

    for (i = 0; rc == CU_OK && i < n; i++) {
        sqlite3_bind_int64(q, 1, (int64_t)notices[i].audit_index);
        sqlite3_bind_text(q, 2, notices[i].customer_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, notices[i].created_at);
        rc = stmt_run(h, q, what, errmsg);
    }
    return rc;
}

static int sq_notice_scan(struct store *s, const char *customer_id, uint64_t from, size_t limit,
                          store_notice_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read access notices";
    sqlite3_stmt *q = NULL;
    int rc = CU_OK, src;

    /* A statement of its own: the callback may use the store. */
    if (sqlite3_prepare_v2(h->db, stmt_sql[ST_NOTICE_SCAN], -1, &q, NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    sqlite3_bind_int64(q, 1, u64_clamp(from));
    sqlite3_bind_int64(q, 2, u64_clamp(limit));
    if (customer_id != NULL)
        sqlite3_bind_text(q, 3, customer_id, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(q)) == SQLITE_ROW)
        if (cb(ctx, (uint64_t)sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
               sqlite3_column_int64(q, 2)) != 0)
            break;
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_finalize(q);
    return rc;
}

static int sq_notice_delete(struct store *s, uint64_t audit_index, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "forget an access notice";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_NOTICE_DELETE, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_int64(q, 1, (int64_t)audit_index);
    rc = stmt_run(h, q, what, errmsg);
    if (rc == CU_OK && sqlite3_changes(h->db) == 0)
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "store: %s: no such notice", what);
    return rc;
}

/* ---- erasure requests ---- */

static int sq_erasure_put(struct store *s, const struct store_erasure *r, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "store an erasure request";
    sqlite3_stmt *q;
    int rc = stmt_get(h, ST_ERASURE_PUT, &q, what, errmsg);

    if (rc != CU_OK)
        return rc;
    sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, r->customer_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, r->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, r->requested_at);
    sqlite3_bind_text(q, 5, r->decided_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, r->decided_at);
    return stmt_run(h, q, what, errmsg);
}

static int sq_erasure_list(struct store *s, const char *id, const char *status,
                           const char *customer_id, store_erasure_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read erasure requests";
    struct store_erasure r;
    sqlite3_stmt *q = NULL;
    int rc = CU_OK, src;

    if (sqlite3_prepare_v2(h->db, stmt_sql[ST_ERASURE_LIST], -1, &q, NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, customer_id, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        r.id = (const char *)sqlite3_column_text(q, 0);
        r.customer_id = (const char *)sqlite3_column_text(q, 1);
        r.status = (const char *)sqlite3_column_text(q, 2);
        r.requested_at = sqlite3_column_int64(q, 3);
        r.decided_by = (const char *)sqlite3_column_text(q, 4);
        r.decided_at = sqlite3_column_int64(q, 5);
        if (cb(ctx, &r) != 0)
            break;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_finalize(q);
    return rc;
}

static int sq_erased_scan(struct store *s, store_erased_cb cb, void *ctx, char **errmsg)
{
    struct store_sqlite *h = sq(s);
    const char *what = "read erased customers";
    sqlite3_stmt *q = NULL;
    int rc = CU_OK, src;

    if (sqlite3_prepare_v2(h->db, "SELECT customer_id FROM erased ORDER BY customer_id", -1, &q,
                           NULL) != SQLITE_OK)
        return db_fail(h, errmsg, what);
    while ((src = sqlite3_step(q)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(q, 0)) != 0)
            break;
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_fail(h, errmsg, what);
    sqlite3_finalize(q);
    return rc;
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .free = sq_free,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .reads_begin = sq_reads_begin,
    .reads_end = sq_reads_end,
    .commits_relaxed = sq_commits_relaxed,
    .checkpoint = sq_checkpoint,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .kek_list = sq_kek_list,
    .kek_put = sq_kek_put,
    .customer_insert = sq_customer_insert,
    .customer_replace = sq_customer_replace,
    .customer_get = sq_customer_get,
    .customer_count = sq_customer_count,
    .blind_find = sq_blind_find,
    .dek_scan = sq_dek_scan,
    .dek_update = sq_dek_update,
    .kek_usage = sq_kek_usage,
    .kek_hold = sq_kek_hold,
    .audit_append = sq_audit_append,
    .audit_size = sq_audit_size,
    .audit_scan = sq_audit_scan,
    .audit_find = sq_audit_find,
    .audit_index = sq_audit_index,
    .staff_put = sq_staff_put,
    .staff_get = sq_staff_get,
    .staff_lock = sq_staff_get, /* in a write transaction, which excludes every other */
    .staff_list = sq_staff_list,
    .session_put = sq_session_put,
    .session_get = sq_session_get,
    .session_touch = sq_session_touch,
    .session_delete = sq_session_delete,
    .session_delete_user = sq_session_delete_user,
    .throttle_get = sq_throttle_get,
    .throttle_put = sq_throttle_put,
    .case_put = sq_case_put,
    .case_get = sq_case_get,
    .case_take_try = sq_case_take_try,
    .case_list = sq_case_list,
    .outbox_add = sq_outbox_add,
    .outbox_scan = sq_outbox_scan,
    .outbox_mark = sq_outbox_mark,
    .outbox_expire = sq_outbox_expire,
    .detect_add = sq_detect_add,
    .detect_rows = sq_detect_rows,
    .detect_prune = sq_detect_prune,
    .alert_add = sq_alert_add,
    .alert_list = sq_alert_list,
    .alert_ack = sq_alert_ack,
    .canary = sq_canary,
    .recent_add = sq_recent_add,
    .recent_rows = sq_recent_rows,
    .recent_prune = sq_recent_prune,
    .detect_peers = sq_detect_peers,
    .detect_store_days = sq_detect_store_days,
    .tile_put = sq_tile_put,
    .tile_get = sq_tile_get,
    .checkpoint_put = sq_checkpoint_put,
    .checkpoint_latest = sq_checkpoint_latest,
    .checkpoint_scan = sq_checkpoint_scan,
    /* erasure */
    .customer_erase = sq_customer_erase,
    .erased_get = sq_erased_get,
    .scrub = sq_scrub,
    /* the customer portal */
    .subject_code_put = sq_subject_code_put,
    .subject_code_get = sq_subject_code_get,
    .subject_code_take = sq_subject_code_take,
    .subject_code_delete = sq_subject_code_delete,
    .subject_session_put = sq_subject_session_put,
    .subject_session_get = sq_subject_session_get,
    .subject_session_delete = sq_subject_session_delete,
    .subject_digest_get = sq_subject_digest_get,
    .subject_digest_put = sq_subject_digest_put,
    .notice_add = sq_notice_add,
    .notice_scan = sq_notice_scan,
    .notice_delete = sq_notice_delete,
    .erasure_put = sq_erasure_put,
    .erasure_list = sq_erasure_list,
    .erased_scan = sq_erased_scan,
};
