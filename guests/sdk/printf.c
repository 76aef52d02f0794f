/*
 * The formatter behind printf and snprintf.  Output goes to a "sink": a
 * buffer plus, for the console, a flush function called when it fills up.
 */
#include <guest/guest.h>

#define CONSOLE_BUFFER_SIZE 256     /* one flush per typical line */
#define NUMBER_DIGITS_MAX   24      /* 2^64 - 1 has 20 decimal digits */

struct sink {
    char *buf;
    size_t cap;                     /* usable bytes in buf */
    size_t len;                     /* bytes in buf now */
    size_t total;                   /* bytes produced so far (the return value) */
    void (*flush)(struct sink *);   /* NULL: drop what does not fit (snprintf) */
};

struct spec {
    bool left;                      /* '-' */
    bool zero;                      /* '0' */
    bool alt;                       /* '#' */
    int width;
    int precision;                  /* -1: none */
    int longs;                      /* 0, 1 (l, z) or 2 (ll) */
};

static void sink_put(struct sink *s, char c)
{
    if (s->len == s->cap && s->flush)
        s->flush(s);
    if (s->len < s->cap)
        s->buf[s->len++] = c;
    s->total++;
}

static void sink_repeat(struct sink *s, char c, int count)
{
    for (int i = 0; i < count; i++)
        sink_put(s, c);
}

static void sink_write(struct sink *s, const char *str, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sink_put(s, str[i]);
}

static size_t bounded_strlen(const char *str, int precision)
{
    size_t n = 0;

    while (str[n] && (precision < 0 || n < (size_t)precision))
        n++;
    return n;
}

static void format_string(struct sink *s, const char *str, const struct spec *sp)
{
    if (!str)
        str = "(null)";
    size_t n = bounded_strlen(str, sp->precision);
    int pad = sp->width > (int)n ? sp->width - (int)n : 0;

    if (!sp->left)
        sink_repeat(s, ' ', pad);
    sink_write(s, str, n);
    if (sp->left)
        sink_repeat(s, ' ', pad);
}

/* Digits of v, least significant first; returns how many. */
static int to_digits(uint64_t v, unsigned base, bool upper, char *out)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;

    do {
        uint32_t digit;

        if (base == 16) {           /* shifts: no division needed */
            digit = (uint32_t)(v & 0xF);
            v >>= 4;
        } else {
            v = udiv64_32(v, base, &digit);
        }
        out[n++] = digits[digit];
    } while (v);
    return n;
}

/*
 * Layout: [spaces][sign][0x][zeros][digits][spaces].  Zero padding fills the
 * width after the sign and prefix, as in C; a precision overrides it.
 */
static void format_number(struct sink *s, uint64_t v, bool negative, unsigned base,
                          bool upper, const char *prefix, const struct spec *sp)
{
    char digits[NUMBER_DIGITS_MAX];
    int ndigits = to_digits(v, base, upper, digits);
    int nprefix = (int)strlen(prefix) + (negative ? 1 : 0);
    int zeros = sp->precision > ndigits ? sp->precision - ndigits : 0;
    int body = nprefix + zeros + ndigits;

    if (sp->zero && !sp->left && sp->precision < 0 && sp->width > body) {
        zeros += sp->width - body;
        body = sp->width;
    }
    int pad = sp->width > body ? sp->width - body : 0;

    if (!sp->left)
        sink_repeat(s, ' ', pad);
    if (negative)
        sink_put(s, '-');
    sink_write(s, prefix, strlen(prefix));
    sink_repeat(s, '0', zeros);
    while (ndigits > 0)
        sink_put(s, digits[--ndigits]);
    if (sp->left)
        sink_repeat(s, ' ', pad);
}

static uint64_t fetch_unsigned(va_list *ap, int longs)
{
    if (longs >= 2)
        return va_arg(*ap, unsigned long long);
    if (longs == 1)
        return va_arg(*ap, unsigned long);
    return va_arg(*ap, unsigned int);
}

static int64_t fetch_signed(va_list *ap, int longs)
{
    if (longs >= 2)
        return va_arg(*ap, long long);
    if (longs == 1)
        return va_arg(*ap, long);
    return va_arg(*ap, int);
}

/* Parses flags, width, precision and length; returns the conversion char. */
static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
    *sp = (struct spec){ .precision = -1 };

    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else if (*f == '#')
            sp->alt = true;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = true;
            sp->width = -sp->width;
        }
        f++;
    } else {
        while (*f >= '0' && *f <= '9')
            sp->width = sp->width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
        f++;
        sp->precision = 0;
        if (*f == '*') {
            sp->precision = va_arg(*ap, int);
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp->precision = sp->precision * 10 + (*f++ - '0');
        }
    }
    for (;; f++) {
        if (*f == 'l')
            sp->longs++;
        else if (*f == 'z')
            sp->longs = sizeof(size_t) == sizeof(unsigned long long) ? 2 : 1;
        else if (*f != 'h')         /* h, hh: promoted to int anyway */
            break;
    }
    return f;
}

static void format_one(struct sink *s, char conv, const struct spec *sp, va_list *ap)
{
    switch (conv) {
    case 'd':
    case 'i': {
        int64_t v = fetch_signed(ap, sp->longs);
        /* Negate in unsigned arithmetic: -INT64_MIN does not exist. */
        uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        format_number(s, mag, v < 0, 10, false, "", sp);
        break;
    }
    case 'u':
        format_number(s, fetch_unsigned(ap, sp->longs), false, 10, false, "", sp);
        break;
    case 'x':
    case 'X':
        format_number(s, fetch_unsigned(ap, sp->longs), false, 16, conv == 'X',
                      sp->alt ? "0x" : "", sp);
        break;
    case 'p': {
        struct spec ptr = *sp;

        /* Full width, so that addresses line up in columns. */
        ptr.precision = (int)(2 * sizeof(void *));
        format_number(s, (uintptr_t)va_arg(*ap, void *), false, 16, false, "0x", &ptr);
        break;
    }
    case 'c': {
        char c = (char)va_arg(*ap, int);
        struct spec one = *sp;

        one.precision = 1;
        format_string(s, &c, &one);
        break;
    }
    case 's':
        format_string(s, va_arg(*ap, const char *), sp);
        break;
    case '%':
        sink_put(s, '%');
        break;
    default:                        /* unknown: show it rather than guess */
        sink_put(s, '%');
        sink_put(s, conv);
        break;
    }
}

static void format(struct sink *s, const char *fmt, va_list ap_in)
{
    va_list ap;

    /* A va_list copy can be passed by pointer portably; ap_in cannot. */
    va_copy(ap, ap_in);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            sink_put(s, *f);
            continue;
        }
        struct spec sp;

        f = parse_spec(f + 1, &sp, &ap);
        if (!*f)
            break;                  /* lone '%' at the end */
        format_one(s, *f, &sp, &ap);
    }
    va_end(ap);
}

static void console_flush(struct sink *s)
{
    hv_console_write(s->buf, s->len);
    s->len = 0;
}

int vprintf(const char *fmt, va_list ap)
{
    char buf[CONSOLE_BUFFER_SIZE];
    struct sink s = { .buf = buf, .cap = sizeof(buf), .flush = console_flush };

    format(&s, fmt, ap);
    console_flush(&s);
    return (int)s.total;
}

int printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { .buf = buf, .cap = size ? size - 1 : 0 };

    format(&s, fmt, ap);
    if (size)
        buf[s.len] = '\0';
    return (int)s.total;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
