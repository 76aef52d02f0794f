/*
 * Local APIC (SDM Vol. 3A, chapter 11).  xAPIC registers are 16-byte spaced
 * MMIO; in x2APIC mode the same register N is MSR 0x800 + N/16 and the ICR
 * is one 64-bit MSR (SDM 11.12).  We keep whatever mode firmware chose.
 */
#include <hv/lapic.h>
#include <hv/paging.h>
#include <hv/trap.h>
#include <hv/log.h>
#include <hv/x86.h>

#define APIC_BASE_X2APIC        BIT(10)
#define APIC_BASE_ENABLE        BIT(11)
#define APIC_BASE_ADDR_MASK     0x000FFFFFFFFFF000ULL

#define LAPIC_ID                0x020
#define LAPIC_TPR               0x080
#define LAPIC_EOI               0x0B0
#define LAPIC_SVR               0x0F0
#define LAPIC_ESR               0x280
#define LAPIC_ICR_LO            0x300
#define LAPIC_ICR_HI            0x310
#define LAPIC_LVT_TIMER         0x320
#define LAPIC_LVT_LINT0         0x350
#define LAPIC_LVT_LINT1         0x360
#define LAPIC_LVT_ERROR         0x370
#define LAPIC_TIMER_INIT        0x380
#define LAPIC_TIMER_CURRENT     0x390
#define LAPIC_TIMER_DIVIDE      0x3E0
#define X2APIC_MSR_BASE         0x800

#define SVR_APIC_ENABLE         BIT(8)
#define LVT_MASKED              BIT(16)
#define LVT_TIMER_PERIODIC      BIT(17)
#define ICR_DELIVERY_INIT       (5u << 8)
#define ICR_DELIVERY_STARTUP    (6u << 8)
#define ICR_DELIVERY_STATUS     BIT(12)
#define ICR_LEVEL_ASSERT        BIT(14)
#define TIMER_DIVIDE_BY_16      0x3
#define CALIBRATION_US          10000
#define ICR_IDLE_SPINS          1000000

static volatile uint8_t *mmio;
static bool x2apic;
static uint64_t timer_hz;           /* LAPIC timer input clock after the divider */

static uint32_t lapic_read(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR_BASE + (reg >> 4));
    return *(volatile uint32_t *)(mmio + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(X2APIC_MSR_BASE + (reg >> 4), v);
    else
        *(volatile uint32_t *)(mmio + reg) = v;
}

int lapic_init(phys_addr_t madt_addr)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    x2apic = (base & APIC_BASE_X2APIC) && (base & APIC_BASE_ENABLE);
    if (x2apic) {
        pr_info("local APIC: x2APIC mode (left on by firmware)");
        return 0;
    }
    phys_addr_t addr = base & APIC_BASE_ADDR_MASK;
    if (madt_addr && madt_addr != addr)
        pr_warn("local APIC: MADT says %#llx, IA32_APIC_BASE says %#llx; using the MSR",
                (unsigned long long)madt_addr, (unsigned long long)addr);
    mmio = mmio_map(addr, PAGE_SIZE);
    if (!mmio) {
        pr_err("local APIC: cannot map its registers at %#llx", (unsigned long long)addr);
        return -1;
    }
    pr_info("local APIC: xAPIC mode, registers at %#llx", (unsigned long long)addr);
    return 0;
}

bool lapic_x2apic_mode(void) { return x2apic; }

void lapic_enable(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_ENABLE);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, VEC_LAPIC_ERROR);
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_SVR, SVR_APIC_ENABLE | VEC_SPURIOUS);
}

uint32_t lapic_id(void)
{
    uint32_t id = lapic_read(LAPIC_ID);
    return x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

static void send_icr(uint32_t apic_id, uint32_t low)
{
    if (x2apic) {
        wrmsr(X2APIC_MSR_BASE + (LAPIC_ICR_LO >> 4), ((uint64_t)apic_id << 32) | low);
        return;
    }
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, low);
}

bool lapic_ipi_delivered(void)
{
    if (x2apic)
        return true;        /* x2APIC has no delivery status bit */
    for (unsigned i = 0; i < ICR_IDLE_SPINS; i++) {
        if (!(lapic_read(LAPIC_ICR_LO) & ICR_DELIVERY_STATUS))
            return true;
        cpu_relax();
    }
    return false;
}

void lapic_send_init(uint32_t apic_id)
{
    send_icr(apic_id, ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT);
}

void lapic_send_startup(uint32_t apic_id, uint8_t vector)
{
    send_icr(apic_id, ICR_DELIVERY_STARTUP | ICR_LEVEL_ASSERT | vector);
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    send_icr(apic_id, ICR_LEVEL_ASSERT | vector);
}

int lapic_timer_calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0xFFFFFFFF);
    pit_delay_us(CALIBRATION_US);
    uint32_t elapsed = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CURRENT);
    lapic_write(LAPIC_TIMER_INIT, 0);
    if (elapsed == 0) {
        pr_err("local APIC timer: did not count during a %u us PIT interval", CALIBRATION_US);
        return -1;
    }
    timer_hz = (uint64_t)elapsed * (1000000 / CALIBRATION_US);
    pr_info("local APIC timer: %llu Hz after divide-by-16",
            (unsigned long long)timer_hz);
    return 0;
}

uint64_t lapic_timer_frequency(void) { return timer_hz; }

void lapic_timer_start_periodic(uint32_t hz)
{
    if (!timer_hz || !hz)
        return;
    uint64_t count = timer_hz / hz;
    lapic_write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | VEC_LAPIC_TIMER);
    lapic_write(LAPIC_TIMER_INIT, count ? (uint32_t)MIN(count, 0xFFFFFFFFULL) : 1);
}
