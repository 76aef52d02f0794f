/* Looking up words of a command line (see guest/cmdline.h). */
#include <guest/guest.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_blanks(const char *p)
{
    while (*p && is_blank(*p))
        p++;
    return p;
}

static size_t word_length(const char *p)
{
    size_t n = 0;

    while (p[n] && !is_blank(p[n]))
        n++;
    return n;
}

/*
 * The value of the last word "key=value": returns its start and length, or
 * NULL when no word starts with "key=".
 */
static const char *find_value(const char *cmdline, const char *key, size_t *value_len)
{
    size_t key_len = strlen(key);
    const char *found = NULL;

    if (!cmdline)
        return NULL;
    for (const char *p = skip_blanks(cmdline); *p; p = skip_blanks(p)) {
        size_t len = word_length(p);

        if (len > key_len && strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
            found = p + key_len + 1;
            *value_len = len - key_len - 1;
        }
        p += len;
    }
    return found;
}

static int digit_value(char c, unsigned base)
{
    int v;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    else
        return -1;
    return v < (int)base ? v : -1;
}

/* Parses exactly len characters; false on anything but digits or overflow. */
static bool parse_number(const char *s, size_t len, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;

    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(s[i], base);

        if (d < 0)
            return false;
        /* v * base + d must fit.  udiv64_32: a 64-bit "/" needs libgcc
         * in 32-bit guests. */
        if (v > udiv64_32(UINT64_MAX - (uint64_t)d, base, NULL))
            return false;
        v = v * base + (uint64_t)d;
    }
    *out = v;
    return true;
}

int cmdline_get(const char *cmdline, const char *key, uint64_t *value)
{
    size_t len;
    const char *v = find_value(cmdline, key, &len);

    if (!v)
        return 0;
    return parse_number(v, len, value) ? 1 : -1;
}

uint64_t cmdline_get_or(const char *cmdline, const char *key, uint64_t dflt)
{
    uint64_t value;
    int found = cmdline_get(cmdline, key, &value);

    if (found > 0)
        return value;
    if (found < 0)
        printf("guest: %s= is not a number, using %llu\n", key, (unsigned long long)dflt);
    return dflt;
}

bool cmdline_get_str(const char *cmdline, const char *key, char *buf, size_t size)
{
    size_t len;
    const char *v = find_value(cmdline, key, &len);

    if (!v)
        return false;
    if (size) {
        if (len > size - 1)
            len = size - 1;
        memcpy(buf, v, len);
        buf[len] = '\0';
    }
    return true;
}

bool cmdline_has(const char *cmdline, const char *word)
{
    size_t want = strlen(word);

    if (!cmdline)
        return false;
    for (const char *p = skip_blanks(cmdline); *p; p = skip_blanks(p)) {
        size_t len = word_length(p);

        if (len == want && strncmp(p, word, len) == 0)
            return true;
        p += len;
    }
    return false;
}
