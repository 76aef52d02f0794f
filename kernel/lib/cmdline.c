/* Command line parser; see include/hv/cmdline.h. */
#include <hv/cmdline.h>
#include <hv/kstring.h>

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool cmdline_parse_uint(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    size_t i = 0;

    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    size_t digits_start = i;
    for (; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    if (i == digits_start)
        return false;
    if (i < len) {
        unsigned shift;
        switch (s[i]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return false;
        }
        if (i + 1 != len || (v >> (64 - shift)) != 0)
            return false;
        v <<= shift;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *v, size_t len, bool *out)
{
    static const char *const yes[] = { "1", "yes", "on", "true" };
    static const char *const no[] = { "0", "no", "off", "false" };
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strlen(yes[i]) == len && !memcmp(yes[i], v, len)) { *out = true; return true; }
        if (strlen(no[i]) == len && !memcmp(no[i], v, len)) { *out = false; return true; }
    }
    return false;
}

static const struct cmdline_option *find_option(const struct cmdline_option *opts, size_t n,
                                                const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !memcmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

/* Applies one `name[=value]` word; returns the problem or NULL. */
static const char *apply(const struct cmdline_option *o, const char *val, size_t vlen, bool has_val)
{
    switch (o->type) {
    case CMDLINE_FLAG: {
        bool b = true;
        if (has_val && !parse_bool(val, vlen, &b))
            return "flag takes no value or one of 0/1, yes/no, on/off, true/false";
        *(bool *)o->dest = b;
        return NULL;
    }
    case CMDLINE_UINT: {
        uint64_t v;
        if (!has_val || vlen == 0)
            return "needs a numeric value";
        if (!cmdline_parse_uint(val, vlen, &v))
            return "value is not a number (decimal or 0x hex, optional K/M/G suffix)";
        if (v < o->min || (o->max && v > o->max))
            return "value out of range";
        *(uint64_t *)o->dest = v;
        return NULL;
    }
    case CMDLINE_STRING:
        if (!has_val)
            return "needs a value";
        if (vlen >= o->size)
            return "value too long";
        memcpy(o->dest, val, vlen);
        ((char *)o->dest)[vlen] = '\0';
        return NULL;
    case CMDLINE_ENUM:
        if (!has_val)
            return "needs a value";
        for (int i = 0; o->choices[i]; i++) {
            if (strlen(o->choices[i]) == vlen && !memcmp(o->choices[i], val, vlen)) {
                *(int *)o->dest = i;
                return NULL;
            }
        }
        return "value is not one of the allowed choices";
    }
    return "option has an invalid type";
}

int cmdline_parse(const char *line, const struct cmdline_option *opts, size_t nopts,
                  cmdline_report_fn report, void *ctx)
{
    int problems = 0;
    const char *p = line ? line : "";

    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;

        const char *word = p, *name = p, *val = NULL;
        size_t name_len, vlen = 0;
        bool has_val = false, unterminated = false;
        /* GRUB re-quotes a word that held spaces as a whole: "name=value with spaces". */
        bool whole_quoted = *p == '"';
        if (whole_quoted)
            name = ++p;

        while (*p && !is_space(*p) && *p != '=' && *p != '"')
            p++;
        name_len = p - name;
        if (*p == '=') {
            has_val = true;
            p++;
            if (whole_quoted || *p == '"') {
                if (!whole_quoted)
                    p++;
                val = p;
                while (*p && *p != '"')
                    p++;
                vlen = p - val;
                if (*p == '"')
                    p++;
                else
                    unterminated = true;
            } else {
                val = p;
                while (*p && !is_space(*p))
                    p++;
                vlen = p - val;
            }
        } else if (whole_quoted) {
            if (*p == '"')
                p++;
            else
                unterminated = true;
        }
        size_t word_len = p - word;

        const char *problem = NULL;
        const struct cmdline_option *o = name_len ? find_option(opts, nopts, name, name_len) : NULL;
        if (unterminated)
            problem = "unterminated quoted value";
        else if (name_len == 0)
            problem = "missing option name before '='";
        else if (!o)
            problem = "unknown option";
        else
            problem = apply(o, val, vlen, has_val);

        if (problem) {
            problems++;
            if (report)
                report(ctx, word, word_len, problem);
        }
    }
    return problems;
}
