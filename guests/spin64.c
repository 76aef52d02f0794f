/*
 * spin64: never exits.  For preemption and timeout tests: it spins with
 * PAUSE (so PAUSE-loop exiting can see it) and prints a heartbeat every
 * 2^24 iterations, numbered from 1, so that a test can tell it keeps running.
 */
#include <guest/guest.h>

#define HEARTBEAT_SHIFT 24
#define HEARTBEAT_MASK  ((1ull << HEARTBEAT_SHIFT) - 1)

int guest_main64(const char *args, uint64_t ram_size)
{
    (void)args;
    (void)ram_size;
    printf("spin: started\n");
    for (uint64_t i = 1;; i++) {
        cpu_pause();
        if ((i & HEARTBEAT_MASK) == 0)
            printf("spin: alive %lu\n", (unsigned long)(i >> HEARTBEAT_SHIFT));
    }
}
