#include <hv/format.h>

struct fmt_spec {
    bool left, zero, plus, space, alt;
    int width;
    int precision;          /* -1: none */
};

static int emit(format_sink_fn sink, void *ctx, char c)
{
    sink(ctx, c);
    return 1;
}

static int emit_pad(format_sink_fn sink, void *ctx, char c, int n)
{
    int out = 0;
    while (n-- > 0)
        out += emit(sink, ctx, c);
    return out;
}

static int emit_string(format_sink_fn sink, void *ctx, const char *s, const struct fmt_spec *sp)
{
    int len = 0, out = 0;
    if (!s)
        s = "(null)";
    /* Precision first: with one, C allows an array that is not NUL-terminated. */
    while ((sp->precision < 0 || len < sp->precision) && s[len])
        len++;
    if (!sp->left)
        out += emit_pad(sink, ctx, ' ', sp->width - len);
    for (int i = 0; i < len; i++)
        out += emit(sink, ctx, s[i]);
    if (sp->left)
        out += emit_pad(sink, ctx, ' ', sp->width - len);
    return out;
}

/* Formats an integer as C's printf does: sign/prefix, precision zeros, padding. */
static int emit_number(format_sink_fn sink, void *ctx, uint64_t mag, bool negative,
                       unsigned base, bool upper, const struct fmt_spec *sp, bool is_signed)
{
    char digits[24];
    int nd = 0, out = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    if (!(mag == 0 && sp->precision == 0)) {
        do {
            digits[nd++] = set[mag % base];
            mag /= base;
        } while (mag);
    }

    char prefix[3];
    int np = 0;
    if (is_signed) {
        if (negative)
            prefix[np++] = '-';
        else if (sp->plus)
            prefix[np++] = '+';
        else if (sp->space)
            prefix[np++] = ' ';
    }
    if (sp->alt && base == 16 && nd > 0 && !(nd == 1 && digits[0] == '0')) {
        prefix[np++] = '0';
        prefix[np++] = upper ? 'X' : 'x';
    }
    int zeros = 0;
    if (sp->precision > nd)
        zeros = sp->precision - nd;
    if (sp->alt && base == 8 && zeros == 0 && (nd == 0 || digits[nd - 1] != '0'))
        zeros = 1;

    int body = np + zeros + nd;
    int pad = sp->width > body ? sp->width - body : 0;

    if (!sp->left && !(sp->zero && sp->precision < 0))
        out += emit_pad(sink, ctx, ' ', pad);
    for (int i = 0; i < np; i++)
        out += emit(sink, ctx, prefix[i]);
    if (!sp->left && sp->zero && sp->precision < 0)
        out += emit_pad(sink, ctx, '0', pad);
    out += emit_pad(sink, ctx, '0', zeros);
    while (nd)
        out += emit(sink, ctx, digits[--nd]);
    if (sp->left)
        out += emit_pad(sink, ctx, ' ', pad);
    return out;
}

enum fmt_len { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

static uint64_t fetch_unsigned(va_list *ap, enum fmt_len len)
{
    switch (len) {
    case LEN_CHAR:  return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_LONG:  return va_arg(*ap, unsigned long);
    case LEN_LLONG: return va_arg(*ap, unsigned long long);
    case LEN_SIZE:  return va_arg(*ap, size_t);
    default:        return va_arg(*ap, unsigned int);
    }
}

static int64_t fetch_signed(va_list *ap, enum fmt_len len)
{
    switch (len) {
    case LEN_CHAR:  return (signed char)va_arg(*ap, int);
    case LEN_SHORT: return (short)va_arg(*ap, int);
    case LEN_LONG:  return va_arg(*ap, long);
    case LEN_LLONG: return va_arg(*ap, long long);
    case LEN_SIZE:  return (int64_t)va_arg(*ap, size_t);
    default:        return va_arg(*ap, int);
    }
}

int format_v(format_sink_fn sink, void *ctx, const char *fmt, va_list ap_in)
{
    va_list ap;
    int out = 0;

    va_copy(ap, ap_in);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            out += emit(sink, ctx, *p);
            continue;
        }
        struct fmt_spec sp = { .precision = -1 };
        for (;; p++) {
            char f = p[1];
            if (f == '-') sp.left = true;
            else if (f == '0') sp.zero = true;
            else if (f == '+') sp.plus = true;
            else if (f == ' ') sp.space = true;
            else if (f == '#') sp.alt = true;
            else break;
        }
        p++;
        if (*p == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                sp.width = sp.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            sp.precision = 0;
            if (*p == '*') {
                sp.precision = va_arg(ap, int);
                if (sp.precision < 0)
                    sp.precision = -1;
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    sp.precision = sp.precision * 10 + (*p++ - '0');
            }
        }
        enum fmt_len len = LEN_INT;
        if (*p == 'h') {
            len = LEN_SHORT;
            if (*++p == 'h') { len = LEN_CHAR; p++; }
        } else if (*p == 'l') {
            len = LEN_LONG;
            if (*++p == 'l') { len = LEN_LLONG; p++; }
        } else if (*p == 'z' || *p == 't' || *p == 'j') {
            len = LEN_SIZE;
            p++;
        }

        switch (*p) {
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!sp.left) out += emit_pad(sink, ctx, ' ', sp.width - 1);
            out += emit(sink, ctx, c);
            if (sp.left) out += emit_pad(sink, ctx, ' ', sp.width - 1);
            break;
        }
        case 's':
            out += emit_string(sink, ctx, va_arg(ap, const char *), &sp);
            break;
        case 'd':
        case 'i': {
            int64_t v = fetch_signed(&ap, len);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            out += emit_number(sink, ctx, mag, v < 0, 10, false, &sp, true);
            break;
        }
        case 'u':
            out += emit_number(sink, ctx, fetch_unsigned(&ap, len), false, 10, false, &sp, false);
            break;
        case 'o':
            out += emit_number(sink, ctx, fetch_unsigned(&ap, len), false, 8, false, &sp, false);
            break;
        case 'x':
        case 'X':
            out += emit_number(sink, ctx, fetch_unsigned(&ap, len), false, 16, *p == 'X', &sp, false);
            break;
        case 'p': {
            struct fmt_spec ps = sp;
            ps.alt = true;
            out += emit_number(sink, ctx, (uint64_t)(uintptr_t)va_arg(ap, void *), false, 16,
                               false, &ps, false);
            break;
        }
        case '%':
            out += emit(sink, ctx, '%');
            break;
        case '\0':
            p--;            /* a lone '%' at the end: stop */
            break;
        default:            /* unknown conversion: print it verbatim */
            out += emit(sink, ctx, '%');
            out += emit(sink, ctx, *p);
            break;
        }
    }
    va_end(ap);
    return out;
}

struct buf_sink {
    char *buf;
    size_t size;
    size_t pos;
};

static void buf_put(void *ctx, char c)
{
    struct buf_sink *b = ctx;
    if (b->pos + 1 < b->size)
        b->buf[b->pos] = c;
    b->pos++;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_sink b = { buf, size, 0 };
    int n = format_v(buf_put, &b, fmt, ap);
    if (size)
        buf[b.pos < size ? b.pos : size - 1] = '\0';
    return n;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
