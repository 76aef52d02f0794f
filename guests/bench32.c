/*
 * bench32: round-trip costs of the three cheapest VM exits, in TSC ticks.
 * Each measurement times a loop of N iterations (iterations=N, default 1000)
 * between two fenced TSC reads, subtracts the same loop with an empty body,
 * and divides by N.  Output, one line each:
 *     BENCH <name> <average ticks per iteration> ticks (<N> iterations)
 *
 * When the test device is there (devices=uart,pic,testdev), also the cost
 * of emulated devices: OUT to the UART's THR (a NUL byte, which the host
 * console drops), IN from its LSR, a 4-byte MMIO write and read on the test
 * device, and REP OUTSB of 4096 NUL bytes to THR, the latter per byte:
 *     BENCH rep-outsb-uart-4k <ticks per byte> ticks (<M> iterations of 4096 bytes)
 * with M = N / 100 (at least 1), since one iteration is 4096 port writes.
 */
#include <guest/guest.h>

#include "testlib/testdev.h"

#define DEFAULT_ITERATIONS  1000
#define WARMUP_ITERATIONS   16      /* first exits touch cold code and TLBs */
#define BASELINE_RUNS       3       /* the empty loop: keep the fastest */
#define BENCH_OUT_PORT      HV_DEBUG_CONSOLE_PORT
#define BENCH_OUT_BYTE      0       /* NUL: the host console drops it */
#define COM1_THR            0x3F8
#define COM1_LSR            0x3FD
#define REP_OUTS_BYTES      4096
#define REP_OUTS_DIVISOR    100     /* REP OUTSB iterations = N / this */

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
DEFINE_TIMED_LOOP(loop_out_uart_thr, outb(COM1_THR, BENCH_OUT_BYTE))
DEFINE_TIMED_LOOP(loop_in_uart_lsr, (void)inb(COM1_LSR))
DEFINE_TIMED_LOOP(loop_mmio_write32, mmio_write32(TESTDEV_MMIO_BASE, i))
DEFINE_TIMED_LOOP(loop_mmio_read32, (void)mmio_read32(TESTDEV_MMIO_BASE))

/* 4096 NUL bytes for REP OUTSB: one string instruction, many port writes. */
static const uint8_t nul_bytes[REP_OUTS_BYTES];

static void rep_outsb(uint16_t port, const void *buf, uint32_t len)
{
    __asm__ volatile("rep outsb"
                     : "+S"(buf), "+c"(len)
                     : "d"(port)
                     : "memory");
}

DEFINE_TIMED_LOOP(loop_rep_outsb_uart_4k, rep_outsb(COM1_THR, nul_bytes, REP_OUTS_BYTES))

struct benchmark {
    const char *name;
    uint64_t (*loop)(uint32_t n);
    bool needs_hypervisor;          /* VMCALL raises #UD on bare metal/QEMU */
    bool needs_testdev;             /* measures the emulated devices */
};

static const struct benchmark benchmarks[] = {
    { "cpuid", loop_cpuid, false, false },
    { "vmcall-nop", loop_vmcall_nop, true, false },
    { "out-e9", loop_out_e9, false, false },
    { "out-uart-thr", loop_out_uart_thr, false, true },
    { "in-uart-lsr", loop_in_uart_lsr, false, true },
    { "mmio-write32", loop_mmio_write32, false, true },
    { "mmio-read32", loop_mmio_read32, false, true },
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

static void run_benchmark(const struct benchmark *b, uint32_t n, uint64_t baseline,
                          bool have_testdev)
{
    if (b->needs_hypervisor && !hv_present()) {
        printf("bench: %s skipped: not running under the hypervisor\n", b->name);
        return;
    }
    if (b->needs_testdev && !have_testdev)
        return;                     /* said once, in guest_main */
    b->loop(WARMUP_ITERATIONS);
    uint64_t total = b->loop(n);

    printf("BENCH %s %llu ticks (%u iterations)\n", b->name,
           (unsigned long long)average_ticks(total, baseline, n), n);
}

/* REP OUTSB of 4096 bytes, N / REP_OUTS_DIVISOR times, reported per byte. */
static void run_rep_outsb_benchmark(uint32_t n)
{
    uint32_t reps = n / REP_OUTS_DIVISOR ? n / REP_OUTS_DIVISOR : 1;
    uint64_t baseline = baseline_ticks(reps);

    loop_rep_outsb_uart_4k(1);      /* warm-up */
    uint64_t total = loop_rep_outsb_uart_4k(reps);
    uint64_t bytes = (uint64_t)reps * REP_OUTS_BYTES;
    uint64_t per_byte = total <= baseline ? 0 : udiv64_32(total - baseline + bytes / 2,
                                                           (uint32_t)bytes, NULL);

    printf("BENCH rep-outsb-uart-4k %llu ticks (%u iterations of %u bytes)\n",
           (unsigned long long)per_byte, reps, REP_OUTS_BYTES);
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
    sse_enable();                   /* testdev_present reads 8 bytes through XMM0 */

    bool have_testdev = testdev_present();
    uint32_t n = iterations_from_cmdline();
    uint64_t baseline = baseline_ticks(n);

    printf("bench: %u iterations, TSC read with %s, empty loop %llu ticks (subtracted)\n", n,
           have_lfence ? "LFENCE;RDTSC;LFENCE" : "CPUID;RDTSC",
           (unsigned long long)udiv64_32(baseline, n, NULL));
    for (size_t i = 0; i < ARRAY_SIZE(benchmarks); i++)
        run_benchmark(&benchmarks[i], n, baseline, have_testdev);
    if (have_testdev)
        run_rep_outsb_benchmark(n);
    else
        printf("bench: device benchmarks skipped: no test device\n");
    printf("bench: done\n");
    return 0;
}
