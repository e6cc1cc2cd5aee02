/*
 * Customer and device records: normalisation, validation and masking, as
 * ../shared/API.md describes them.  Pure functions, no I/O, no crypto.
 *
 * Ownership: every `char *` inside a record is owned by the record and
 * released by model_customer_release().  Functions that return a `char *`
 * return a newly allocated string the caller frees.
 */
#ifndef CU_MODEL_H
#define CU_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

/*
 * The personal fields of a customer, in the order they are stored.  Each is
 * sealed separately by the vault; the field name is bound into the
 * ciphertext's associated data.  MODEL_F_DEVICES holds every device of the
 * customer, encoded with model_devices_encode().
 */
enum model_field {
    MODEL_F_ACCOUNT,
    MODEL_F_NAME,
    MODEL_F_PHONE, /* one or more E.164 numbers joined with ';' */
    MODEL_F_EMAIL,
    MODEL_F_ADDRESS,
    MODEL_F_BIRTH_DATE,
    MODEL_F_DEVICES,
    MODEL_F__COUNT
};

/* "account", "name", ... "devices"; NULL for an out-of-range value. */
const char *model_field_name(enum model_field f);
/* The field with that name, or -1. */
int model_field_from_name(const char *name);

/* The identifiers that have a blind index (exact-match look-up). */
enum model_ident {
    MODEL_ID_IMEI = 1,
    MODEL_ID_SERIAL = 2,
    MODEL_ID_PHONE = 3,
    MODEL_ID_EMAIL = 4,
    MODEL_ID_ACCOUNT = 5,
};
#define MODEL_ID__MAX 5
/* "imei", "serial", "phone", "email", "account"; NULL otherwise. */
const char *model_ident_name(enum model_ident id);
/* The identifier with that name, or -1. */
int model_ident_from_name(const char *name);

#define MODEL_IMEI_LEN    15
#define MODEL_MAX_PHONES  8
#define MODEL_MAX_DEVICES 32

struct model_device {
    char *imei; /* 15 digits, Luhn-valid */
    char *serial;
    char *model;
    char *purchase_date; /* YYYY-MM-DD or NULL */
    char *store;
};

struct model_customer {
    char *customer_id; /* not personal: the company's customer number */
    char *account;     /* e-mail form, lower case */
    char *name;
    char *phones[MODEL_MAX_PHONES]; /* E.164, "+8613812345678" */
    size_t nphones;
    char *email;
    char *address;
    char *birth_date; /* YYYY-MM-DD or NULL */
    struct model_device *devices;
    size_t ndevices;
    size_t devices_cap;
};

void model_customer_init(struct model_customer *c);
/* Frees (and wipes) every string of the record and leaves it initialised. */
void model_customer_release(struct model_customer *c);
/* Appends a zeroed device and returns it; the record owns it. */
struct model_device *model_customer_add_device(struct model_customer *c);
/* Frees (and wipes) the strings of one device. */
void model_device_release(struct model_device *d);

/*
 * Validation error: which field was wrong and why.  `field` points at a
 * static string (the API field name, "imei", "phone", ...); `reason` is a
 * static string too, never containing the input value.
 */
struct model_error {
    const char *field;
    const char *reason;
};

/*
 * Normalisers.  Each reads `in` (any surrounding white space is ignored),
 * and on success returns CU_OK and a newly allocated normalised string in
 * *out.  On bad input they return CU_ERR_INVALID, leave *out NULL and set
 * err->reason (err->field is set to the field's API name; "date" and "text"
 * for the normalisers that serve several fields, whose real name
 * model_customer_normalise() reports).
 *
 *  imei:    digits only (spaces, '-' and '/' are dropped), exactly 15, Luhn check digit.
 *  phone:   E.164 "+CC..." ; a number without '+' or "00" is read in the
 *           default country `default_cc` (digits, e.g. "86"), dropping a
 *           national trunk '0'; the country code must be an assigned ITU one;
 *           8 to 15 digits in all; Chinese (+86) mobiles are 11 digits
 *           starting 13-19.
 *  email:   trimmed, lower-cased, one '@', a non-empty local part, a domain
 *           with at least one dot and only letters, digits, '-' and '.'.
 *  account: as email (accounts are e-mail form).
 *  serial:  upper-cased, letters and digits only, 6 to 20 of them.
 *  date:    YYYY-MM-DD, a real calendar date between 1900-01-01 and 2100-12-31.
 *  name:    trimmed, valid UTF-8, 1 to 200 bytes, no control characters.
 *  text:    trimmed, valid UTF-8, at most 500 bytes, no control characters
 *           (address, device model, store).
 *  customer_id: trimmed, 1 to 64 of [A-Za-z0-9_.-].
 */
int model_norm_imei(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_phone(const char *in, const char *default_cc, char **out,
                     struct model_error *err) CU_WUR;
int model_norm_email(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_account(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_serial(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_date(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_name(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_text(const char *in, char **out, struct model_error *err) CU_WUR;
int model_norm_customer_id(const char *in, char **out, struct model_error *err) CU_WUR;

/* True when the 15 digits of `imei` carry a valid Luhn check digit. */
int model_luhn_ok(const char *digits, size_t len);

/*
 * Normalises an identifier of the given kind (for look-ups), as the
 * matching normaliser above.
 */
int model_norm_ident(enum model_ident kind, const char *in, const char *default_cc, char **out,
                     struct model_error *err) CU_WUR;

/*
 * Normalises and validates a whole record in place (each present field is
 * replaced by its normalised form).  Required: customer_id, name, and at
 * least one of phone, email, account.  Devices need an IMEI; the rest of a
 * device is optional.  Returns CU_OK or CU_ERR_INVALID with *err set to the
 * first bad field (for a device field, err->field is "imei", "serial", ...
 * and *bad_device, if not NULL, is the device's index; otherwise -1).
 */
int model_customer_normalise(struct model_customer *c, const char *default_cc,
                             struct model_error *err, int *bad_device) CU_WUR;

/*
 * Masking, as API.md says.  Input is a normalised value; output a new string.
 *  name:    each word keeps its first character ("J*** D**"); a CJK name keeps
 *           its first character ("张**"), one '*' per hidden character.
 *  phone:   "+86 138****5678": country code, first three and last four digits
 *           of the national number.
 *  email:   "j***@example.com" (also used for accounts).
 *  address: the city only, "*** Shenzhen" style: the text up to and including
 *           the first "市" for Chinese addresses (province dropped), otherwise
 *           the second-to-last comma-separated part (the last when there are
 *           two), prefixed with "***, ".
 *  imei:    "***********1234"; serial: the same, keeping the last four.
 *  date:    "****-**-**".
 * A mask never shows a whole value: where these rules would (a one-character
 * name or e-mail local part, a very short number) more is hidden ("张" -> "*").
 * NULL in, NULL out.
 */
char *model_mask_name(const char *name);
char *model_mask_phone(const char *e164);
char *model_mask_email(const char *email);
char *model_mask_address(const char *address);
char *model_mask_tail4(const char *value);
char *model_mask_date(const char *date);

/*
 * Joins the phones with ';' into a new string the caller frees ("" when
 * there is none).  model_phones_split() appends the non-blank parts of such a
 * string (trimmed) to c->phones; CU_ERR_INVALID, changing nothing, when they
 * would not fit in MODEL_MAX_PHONES.
 */
char *model_phones_join(const struct model_customer *c);
int model_phones_split(struct model_customer *c, const char *joined) CU_WUR;

/*
 * Device list encoding used inside the sealed "devices" field: a compact,
 * versioned binary form (a version byte, a device count, then per device five
 * length-prefixed strings, absent fields as length 0).  encode appends to
 * `out`; decode appends the devices to `c` and returns CU_ERR_INVALID on a
 * malformed buffer.
 */
void model_devices_encode(const struct model_customer *c, struct buf *out);
int model_devices_decode(struct model_customer *c, const void *data, size_t len) CU_WUR;

/*
 * Import/export formats (API.md).  CSV: a header row naming the columns
 * (MODEL_CSV_COLUMNS order when written; any order when read), one row per
 * device, customer fields repeated on each row, phones joined with ';'.
 * JSON Lines: one customer per line, "phone" a string (';'-joined) or an
 * array of strings, "devices" an array of objects.
 */
#define MODEL_CSV_COLUMNS                                                                          \
    "customer_id,account,name,phone,email,address,birth_date,imei,serial,model,"                   \
    "purchase_date,store"
/* Appends the header line (with "\r\n"). */
void model_csv_header(struct buf *out);
/* Appends one RFC 4180 row per device (one row with empty device columns if
 * the customer has none), each ended by "\r\n". */
void model_csv_write(const struct model_customer *c, struct buf *out);
/* Appends the customer as one JSON object and "\n". */
void model_jsonl_write(const struct model_customer *c, struct buf *out);
/*
 * Parses one JSON Lines record (`len` bytes, no trailing newline needed)
 * into `c` (initialised, empty) without normalising it.  Unknown members
 * are ignored.  CU_ERR_INVALID with err set ("json", "not valid JSON" /
 * field name, "must be a string" ...) on a structural error; `c` is then
 * released (empty again).
 */
int model_jsonl_read(const char *line, size_t len, struct model_customer *c,
                     struct model_error *err) CU_WUR;

#endif
