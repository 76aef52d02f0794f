/*
 * A one-line failure report that test guests build piece by piece ("what
 * differed"), then print after "FAIL".  Appending stops quietly when full.
 */
#ifndef TESTLIB_MESSAGE_H
#define TESTLIB_MESSAGE_H

#include <guest/guest.h>

struct message {
    char text[320];
    size_t len;
};

void say(struct message *m, const char *fmt, ...) GUEST_PRINTF(2, 3);

#endif
