/* See message.h. */
#include "message.h"

void say(struct message *m, const char *fmt, ...)
{
    va_list ap;

    if (m->len >= sizeof(m->text) - 1)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(m->text + m->len, sizeof(m->text) - m->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len += (size_t)n;
    if (m->len >= sizeof(m->text))
        m->len = sizeof(m->text) - 1;
}
