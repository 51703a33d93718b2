// cli_qr - QR code of a slip: libqrencode (level M, 8-bit hint so that
// its mode optimiser picks alphanumeric for Base45 text), then PNG with
// libpng (8 pixels a module, a 4-module quiet zone as ISO/IEC 18004
// asks), SVG (one rect a dark module) or text (two characters a module).
// Layer: adapters.
#include "adapters/cli/cli_qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"

#define S_QUIET 4 // modules of white border
#define S_SCALE 8 // pixels a module (PNG)

static int
s_dark(const QRcode *q, int x, int y)
{
    x -= S_QUIET, y -= S_QUIET;
    return x >= 0 && y >= 0 && x < q->width && y < q->width
           && (q->data[y * q->width + x] & 1);
}

static int
s_png(const QRcode *q, FILE *f)
{
    png_structp p =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    int side = (q->width + 2 * S_QUIET) * S_SCALE;
    png_bytep row = malloc((size_t) side);
    if (!p || !info || !row || setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        free(row);
        return -1;
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32) side, (png_uint_32) side, 8,
                 PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++)
            row[x] = s_dark(q, x / S_SCALE, y / S_SCALE) ? 0 : 255;
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    return 0;
}

static int
s_svg(const QRcode *q, FILE *f)
{
    int side = q->width + 2 * S_QUIET;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
            "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\" "
            "role=\"img\" aria-label=\"QR code\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path d=\"",
            side, side, side * S_SCALE, side * S_SCALE, side, side);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            if (s_dark(q, x, y))
                fprintf(f, "M%d %dh1v1h-1z", x, y);
    fputs("\" fill=\"#000\"/>\n</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

static void
s_text(const QRcode *q, FILE *f)
{
    int side = q->width + 2 * S_QUIET;
    for (int y = 0; y < side; y++) {
        for (int x = 0; x < side; x++)
            fputs(s_dark(q, x, y) ? "\u2588\u2588" : "  ", f);
        fputc('\n', f);
    }
}

int
cli_qr_write(const char *text, const char *format, const char *path, FILE *out,
             int *version, char *err, size_t n)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) {
        cli_fmt(err, n, "cannot make the QR code: %s", strerror(errno));
        return -1;
    }
    *version = q->version;
    int rc = 0;
    if (!path) {
        s_text(q, out);
    } else {
        FILE *f = fopen(path, "wb");
        rc = !f ? -1 : !strcmp(format, "png") ? s_png(q, f) : s_svg(q, f);
        if (f && fclose(f) != 0)
            rc = -1;
        if (rc != 0)
            cli_fmt(err, n, "cannot write %s: %s", path,
                    errno ? strerror(errno) : "PNG error");
    }
    QRcode_free(q);
    return rc;
}

int
cli_qr_svg(const char *text, FILE *f, int *version)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return -1;
    *version = q->version;
    int rc = s_svg(q, f);
    QRcode_free(q);
    return rc;
}
