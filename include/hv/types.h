/* Basic types shared by the kernel and the host-side unit tests. */
#ifndef HV_TYPES_H
#define HV_TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

typedef uint64_t phys_addr_t;

#define BIT(n)              (1ULL << (n))
#define ARRAY_SIZE(a)       (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)      (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a)    ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b)           ((a) < (b) ? (a) : (b))
#define MAX(a, b)           ((a) > (b) ? (a) : (b))

#define PAGE_SIZE           4096ULL
#define PAGE_SHIFT          12
#define KiB                 1024ULL
#define MiB                 (1024ULL * KiB)
#define GiB                 (1024ULL * MiB)

#define __packed            __attribute__((packed))
#define __noreturn          __attribute__((noreturn))
#define __aligned(n)        __attribute__((aligned(n)))
#define __printf(a, b)      __attribute__((format(printf, a, b)))
#define __unused            __attribute__((unused))
/* Keeps cold code (reports, rare exits) out of the exit path's stack frames. */
#define __cold              __attribute__((noinline, cold))
#define likely(x)           __builtin_expect(!!(x), 1)
#define unlikely(x)         __builtin_expect(!!(x), 0)

#define STATIC_ASSERT(c, m) _Static_assert(c, m)

#endif
