/*
 * Time keeping: the PIT (8254) is the one clock with a known frequency on
 * every PC, so it calibrates the TSC and the local APIC timer.  Channel 2 can
 * be polled without interrupts: its gate and output are bits 0 and 5 of port
 * 0x61.  Under Bochs the TSC counts emulated instructions, so the "frequency"
 * found here is Bochs's configured instructions per second.
 */
#include <hv/lapic.h>
#include <hv/log.h>
#include <hv/x86.h>

#define PIT_HZ              1193182u
#define PIT_CH2_DATA        0x42
#define PIT_COMMAND         0x43
#define PIT_CH2_MODE0_LOHI  0xB0    /* channel 2, lobyte/hibyte, mode 0, binary */
#define PORT_B              0x61
#define PORT_B_GATE2        BIT(0)
#define PORT_B_SPEAKER      BIT(1)
#define PORT_B_OUT2         BIT(5)
#define PIT_MAX_COUNT       0xFFFFu
#define PIT_SPIN_LIMIT      100000000ULL
#define CALIBRATION_US      10000
#define CALIBRATION_ROUNDS  3

static uint64_t tsc_hz;

/* One mode-0 countdown of at most 65535 PIT ticks (~54.9 ms). */
static bool pit_countdown(uint16_t ticks)
{
    uint8_t b = inb(PORT_B);
    outb(PORT_B, (b & ~PORT_B_SPEAKER) & ~PORT_B_GATE2);
    outb(PIT_COMMAND, PIT_CH2_MODE0_LOHI);
    outb(PIT_CH2_DATA, ticks & 0xFF);
    outb(PIT_CH2_DATA, ticks >> 8);
    outb(PORT_B, (b & ~PORT_B_SPEAKER) | PORT_B_GATE2);     /* counting starts */
    for (uint64_t i = 0; i < PIT_SPIN_LIMIT; i++)
        if (inb(PORT_B) & PORT_B_OUT2)
            return true;
    return false;
}

void pit_delay_us(uint32_t us)
{
    uint64_t ticks = (uint64_t)us * PIT_HZ / 1000000;
    while (ticks) {
        uint16_t chunk = (uint16_t)MIN(ticks, (uint64_t)PIT_MAX_COUNT);
        if (!pit_countdown(chunk))
            return;
        ticks -= chunk;
    }
}

int tsc_calibrate(void)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < CALIBRATION_ROUNDS; i++) {
        uint64_t t0 = rdtsc();
        pit_delay_us(CALIBRATION_US);
        uint64_t d = rdtsc() - t0;
        best = MIN(best, d);
    }
    if (best == 0) {
        pr_err("TSC: no progress during a PIT interval; cannot calibrate");
        return -1;
    }
    tsc_hz = best * (1000000 / CALIBRATION_US);
    pr_info("TSC: %llu.%03llu MHz (calibrated against the PIT)",
            (unsigned long long)(tsc_hz / 1000000), (unsigned long long)(tsc_hz / 1000 % 1000));
    return 0;
}

uint64_t tsc_frequency(void) { return tsc_hz; }

void udelay(uint64_t us)
{
    if (!tsc_hz) {
        pit_delay_us((uint32_t)MIN(us, 0xFFFFFFFFULL));
        return;
    }
    uint64_t end = rdtsc() + us * (tsc_hz / 1000000);
    while (rdtsc() < end)
        cpu_relax();
}
