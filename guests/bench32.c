/*
 * bench32: round-trip costs of the three cheapest VM exits, in TSC ticks.
 * Each measurement times a loop of N iterations (iterations=N, default 1000)
 * between two fenced TSC reads, subtracts the same loop with an empty body,
 * and divides by N.  Output, one line each:
 *     BENCH <name> <average ticks per iteration> ticks (<N> iterations)
 */
#include <guest/guest.h>

#define DEFAULT_ITERATIONS  1000
#define WARMUP_ITERATIONS   16      /* first exits touch cold code and TLBs */
#define BASELINE_RUNS       3       /* the empty loop: keep the fastest */
#define BENCH_OUT_PORT      HV_DEBUG_CONSOLE_PORT
#define BENCH_OUT_BYTE      0       /* NUL: the host console drops it */

static bool have_lfence;

/*
 * Timestamps around the measured loop.  LFENCE orders RDTSC against the
 * loop without a VM exit of its own; CPUID would serialize too, but it
 * exits under VMX and would add an exit's jitter to every sample.
 */
static uint64_t tsc_now(void)
{
    if (have_lfence)
        return rdtsc_lfenced();
    (void)cpuid(0, 0);
    return rdtsc();
}

/* Each loop is its own function with the same shape, so that the empty one
 * costs what the others cost around their body. */
#define DEFINE_TIMED_LOOP(name, body)                           \
    static __attribute__((noinline)) uint64_t name(uint32_t n)  \
    {                                                           \
        uint64_t start = tsc_now();                             \
        for (uint32_t i = 0; i < n; i++) {                      \
            body;                                               \
        }                                                       \
        return tsc_now() - start;                               \
    }

DEFINE_TIMED_LOOP(loop_empty, __asm__ volatile("" : : : "memory"))
DEFINE_TIMED_LOOP(loop_cpuid, (void)cpuid(0, 0))
DEFINE_TIMED_LOOP(loop_vmcall_nop, (void)hv_vmcall(HC_NOP, 0, 0, 0, 0))
DEFINE_TIMED_LOOP(loop_out_e9, outb(BENCH_OUT_PORT, BENCH_OUT_BYTE))

struct benchmark {
    const char *name;
    uint64_t (*loop)(uint32_t n);
    bool needs_hypervisor;          /* VMCALL raises #UD on bare metal/QEMU */
};

static const struct benchmark benchmarks[] = {
    { "cpuid", loop_cpuid, false },
    { "vmcall-nop", loop_vmcall_nop, true },
    { "out-e9", loop_out_e9, false },
};

static uint64_t baseline_ticks(uint32_t n)
{
    uint64_t best = UINT64_MAX;

    for (int run = 0; run < BASELINE_RUNS; run++) {
        uint64_t t = loop_empty(n);

        if (t < best)
            best = t;
    }
    return best;
}

/* (total - baseline) / n, rounded to nearest, never below 0. */
static uint64_t average_ticks(uint64_t total, uint64_t baseline, uint32_t n)
{
    if (total <= baseline)
        return 0;
    return udiv64_32(total - baseline + n / 2, n, NULL);
}

static void run_benchmark(const struct benchmark *b, uint32_t n, uint64_t baseline)
{
    if (b->needs_hypervisor && !hv_present()) {
        printf("bench: %s skipped: not running under the hypervisor\n", b->name);
        return;
    }
    b->loop(WARMUP_ITERATIONS);
    uint64_t total = b->loop(n);

    printf("BENCH %s %llu ticks (%u iterations)\n", b->name,
           (unsigned long long)average_ticks(total, baseline, n), n);
}

static uint32_t iterations_from_cmdline(void)
{
    uint64_t n = cmdline_get_or(guest_cmdline(), "iterations", DEFAULT_ITERATIONS);

    if (n == 0 || n > UINT32_MAX) {
        printf("bench: iterations=%llu out of range 1..%u, using %u\n", (unsigned long long)n,
               UINT32_MAX, DEFAULT_ITERATIONS);
        return DEFAULT_ITERATIONS;
    }
    return (uint32_t)n;
}

int guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)mbi;
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        printf("bench: multiboot magic BAD 0x%08x (no command line)\n", magic);
    have_lfence = cpuid(1, 0).edx & CPUID_1_EDX_SSE2;

    uint32_t n = iterations_from_cmdline();
    uint64_t baseline = baseline_ticks(n);

    printf("bench: %u iterations, TSC read with %s, empty loop %llu ticks (subtracted)\n", n,
           have_lfence ? "LFENCE;RDTSC;LFENCE" : "CPUID;RDTSC",
           (unsigned long long)udiv64_32(baseline, n, NULL));
    for (size_t i = 0; i < ARRAY_SIZE(benchmarks); i++)
        run_benchmark(&benchmarks[i], n, baseline);
    printf("bench: done\n");
    return 0;
}
