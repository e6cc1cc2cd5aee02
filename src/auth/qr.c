/*
 * QR codes for TOTP enrolment (libqrencode): a terminal rendering with
 * Unicode half blocks for `custodian staff add`, and SVG for the web
 * console.  Both encode at level M in the smallest version that fits and
 * draw the quiet zone.  The symbol's bits are wiped before they are freed,
 * since the text usually holds a TOTP secret.
 */
#include "totp.h"

#include <errno.h>

#include <qrencode.h>

/* UTF-8 of U+2588 FULL BLOCK, U+2580 UPPER HALF BLOCK, U+2584 LOWER HALF BLOCK. */
#define GLYPH_FULL  "\xe2\x96\x88"
#define GLYPH_UPPER "\xe2\x96\x80"
#define GLYPH_LOWER "\xe2\x96\x84"

/* Encodes `text` into *qr (the caller frees it with qr_free()). */
static int qr_encode(const char *text, QRcode **qr)
{
    errno = 0;
    *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (*qr != NULL)
        return CU_OK;
    return errno == ERANGE || errno == EINVAL ? CU_ERR_INVALID : CU_ERR_INTERNAL;
}

static void qr_free(QRcode *qr)
{
    cu_wipe(qr->data, (size_t)qr->width * (size_t)qr->width);
    QRcode_free(qr);
}

/*
 * Whether the module at (x, y) is dark, in coordinates that include the
 * quiet zone: anything outside the symbol is light.
 */
static int qr_dark(const QRcode *qr, int x, int y)
{
    x -= QR_QUIET_ZONE;
    y -= QR_QUIET_ZONE;
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
        return 0;
    return qr->data[y * qr->width + x] & 1;
}

int qr_terminal(const char *text, struct buf *out)
{
    QRcode *qr;
    int rc, x, y, size, top, bottom;

    rc = qr_encode(text, &qr);
    if (rc != CU_OK)
        return rc;
    size = qr->width + 2 * QR_QUIET_ZONE;
    for (y = 0; y < size; y += 2) {
        for (x = 0; x < size; x++) {
            /* Glyphs paint light modules; below the last row is terminal background. */
            top = !qr_dark(qr, x, y);
            bottom = y + 1 < size && !qr_dark(qr, x, y + 1);
            if (top && bottom)
                buf_addstr(out, GLYPH_FULL);
            else if (top)
                buf_addstr(out, GLYPH_UPPER);
            else if (bottom)
                buf_addstr(out, GLYPH_LOWER);
            else
                buf_addch(out, ' ');
        }
        buf_addch(out, '\n');
    }
    qr_free(qr);
    return CU_OK;
}

int qr_svg(const char *text, struct buf *out)
{
    QRcode *qr;
    int rc, x, y, run, size;

    rc = qr_encode(text, &qr);
    if (rc != CU_OK)
        return rc;
    size = qr->width + 2 * QR_QUIET_ZONE;
    buf_addf(out,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
             "shape-rendering=\"crispEdges\">"
             "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
             size, size, size, size);
    for (y = 0; y < size; y++) {
        for (x = 0; x < size; x += run) {
            for (run = 0; x + run < size && qr_dark(qr, x + run, y); run++)
                ;
            if (run == 0) {
                run = 1;
                continue;
            }
            buf_addf(out, "M%d %dh%dv1h-%dz", x, y, run, run);
        }
    }
    buf_addstr(out, "\"/></svg>\n");
    qr_free(qr);
    return CU_OK;
}
