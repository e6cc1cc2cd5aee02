/*
 * TLS helpers: a self-signed certificate for `custodian demo --tls`
 * (GnuTLS).  Production serves a certificate of the operator's own
 * (`custodian serve --tls-cert FILE --tls-key FILE`).
 */
#include "http.h"

#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "../vault/vault.h"

#define SELF_SIGNED_DAYS 30

/* Exports a PEM blob as a new NUL-terminated string. */
static char *pem_string(const gnutls_datum_t *d)
{
    char *s = xmalloc(d->size + 1);

    memcpy(s, d->data, d->size);
    s[d->size] = '\0';
    return s;
}

int http_tls_self_signed(const char *host, char **cert_pem, char **key_pem, char **errmsg)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
    unsigned char serial[16];
    unsigned char ip4[4] = {127, 0, 0, 1}, ip6[16] = {0};
    time_t now = time(NULL);
    int g;

    *cert_pem = *key_pem = NULL;
    vault_random(serial, sizeof(serial));
    serial[0] &= 0x7f; /* a positive serial number */
    ip6[15] = 1;
    if ((g = gnutls_x509_privkey_init(&key)) < 0 ||
        (g = gnutls_x509_privkey_generate(
             key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
        (g = gnutls_x509_crt_init(&crt)) < 0 || (g = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (g = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
        (g = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
        (g = gnutls_x509_crt_set_expiration_time(crt, now + SELF_SIGNED_DAYS * 86400L)) < 0 ||
        (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, host,
                                           (unsigned)strlen(host))) < 0 ||
        (g = gnutls_x509_crt_set_subject_alt_name(
             crt, GNUTLS_SAN_DNSNAME, host, (unsigned)strlen(host), GNUTLS_FSAN_APPEND)) < 0 ||
        (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, sizeof(ip4),
                                                  GNUTLS_FSAN_APPEND)) < 0 ||
        (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6, sizeof(ip6),
                                                  GNUTLS_FSAN_APPEND)) < 0 ||
        (g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        (g = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
        (g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c)) < 0 ||
        (g = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k)) < 0) {
        cu_errf(errmsg, CU_ERR_INTERNAL, "cannot make a self-signed certificate: %s",
                gnutls_strerror(g));
        goto out;
    }
    *cert_pem = pem_string(&c);
    *key_pem = pem_string(&k);
out:
    if (k.data != NULL) {
        cu_wipe(k.data, k.size);
        gnutls_free(k.data);
    }
    gnutls_free(c.data);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    return *cert_pem != NULL ? CU_OK : CU_ERR_INTERNAL;
}
