// cli_qr - the referral slip's QR code (issue 18): libqrencode at error
// correction level M, written as PNG (libpng), SVG or terminal text.
// Layer: adapters.
#ifndef CLI_QR_H
#define CLI_QR_H

#include <stdio.h>

// Writes the QR code of 'text' to 'path' as "png" or "svg", or to 'out' as
// text ('path' NULL). '*version' gets the QR version used. 0, or -1 with
// errno-like reason in 'err' (size n).
int cli_qr_write(const char *text, const char *format, const char *path,
                 FILE *out, int *version, char *err, size_t n);

// The QR code of 'text' as an SVG document on 'f'; '*version' gets the QR
// version. 0 or -1.
int cli_qr_svg(const char *text, FILE *f, int *version);

#endif
