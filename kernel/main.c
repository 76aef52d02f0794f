/*
 * Kernel entry: the order of bring-up, one step per function call.
 * boot/boot.asm arrives here on the BSP in long mode with the early page
 * tables, interrupts off, and the multiboot2 information's physical address.
 */
#include <hv/mb2.h>
#include <hv/config.h>
#include <hv/paging.h>
#include <hv/percpu.h>
#include <hv/trap.h>
#include <hv/acpi_glue.h>
#include <hv/lapic.h>
#include <hv/smp.h>
#include <hv/power.h>
#include <hv/image.h>
#include <hv/vms.h>
#include <hv/kernel.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/kstring.h>

#define HV_VERSION          "0.1"
#define MBI_MAX_SIZE        (64 * KiB)  /* sanity bound on total_size */
#define PIC1_DATA           0x21
#define PIC2_DATA           0xA1
#define TIMER_HZ            100
#define TIMER_TEST_MS       100
#define LOW_MEMORY_END      (1 * MiB)

extern char bsp_stack_top[];            /* boot/boot.asm: the stack kmain runs on */
static struct mb2_info mb;             /* large: keep it off the stack */

/* The boot stub's identity map covers the low 4 GiB: the info structure
 * (placed by GRUB below 4 GiB) is reachable through the direct map. */
static void parse_boot_info(uint32_t magic, phys_addr_t mbi_phys)
{
    const char *err;
    if (magic != MB2_BOOTLOADER_MAGIC)
        panic("not booted by a multiboot2 loader (magic %#x)", magic);
    if (mb2_parse(phys_to_virt(mbi_phys), MBI_MAX_SIZE, &mb, &err))
        panic("multiboot2 information at %#llx is malformed: %s",
              (unsigned long long)mbi_phys, err);
}

static void log_memory_map(void)
{
    for (size_t i = 0; i < mb.mmap_count; i++)
        pr_debug("  memory %#014llx-%#014llx %s",
                 (unsigned long long)mb.mmap[i].base,
                 (unsigned long long)(mb.mmap[i].base + mb.mmap[i].length - 1),
                 mb2_mem_type_name(mb.mmap[i].type));
    if (mb.mmap_dropped)
        pr_warn("memory map: %zu entries beyond %u ignored", mb.mmap_dropped, MB2_MAX_MMAP);
}

static void init_memory(phys_addr_t mbi_phys)
{
    struct pmm_range reserved[MB2_MAX_MODULES + 3];
    size_t n = 0;

    if (mb.mmap_count == 0)
        panic("the boot loader gave no memory map (multiboot2 tag 6)");
    log_memory_map();
    /* Low memory holds the BIOS data, the EBDA and the AP trampoline page. */
    reserved[n++] = (struct pmm_range){ 0, LOW_MEMORY_END, "low memory" };
    reserved[n++] = (struct pmm_range){ (phys_addr_t)(uintptr_t)__kernel_phys_start,
                                        (phys_addr_t)(uintptr_t)__kernel_phys_end, "kernel image" };
    reserved[n++] = (struct pmm_range){ mbi_phys, mbi_phys + mb.total_size, "boot information" };
    for (size_t i = 0; i < mb.module_count; i++)
        reserved[n++] = (struct pmm_range){ mb.modules[i].start, mb.modules[i].end, "module" };
    if (phys_init(mb.mmap, mb.mmap_count, reserved, n))
        panic("cannot set up the physical memory allocator");
    paging_init();
}

/* Masks the legacy 8259 PICs: all interrupts come through the local APIC. */
static void disable_legacy_pic(void)
{
    outb(PIC1_DATA, 0xFF);
    outb(PIC2_DATA, 0xFF);
}

static const char *first_word(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    while (*s == ' ')
        s++;
    while (s[i] && s[i] != ' ' && i + 1 < n) {
        buf[i] = s[i];
        i++;
    }
    buf[i] = '\0';
    return i ? buf : "(unnamed)";
}

/* Checks every module GRUB loaded; later issues turn them into guests. */
static void check_modules(void)
{
    if (mb.modules_dropped)
        pr_err("modules: %zu modules beyond the supported %u were ignored",
               mb.modules_dropped, MB2_MAX_MODULES);
    if (config.modules_set && mb.module_count + mb.modules_dropped < config.modules) {
        pr_err("modules: the command line expects %llu module(s) (modules=%llu) but the boot "
               "loader passed %zu: GRUB could not load %llu of them (look for its \"file not "
               "found\" message before the kernel started)",
               (unsigned long long)config.modules, (unsigned long long)config.modules,
               mb.module_count, (unsigned long long)(config.modules - mb.module_count));
    } else if (config.modules_set && mb.module_count > config.modules) {
        pr_warn("modules: %zu given, more than the %llu the command line announces",
                mb.module_count, (unsigned long long)config.modules);
    }
    if (mb.module_count == 0) {
        pr_info("modules: none given");
        return;
    }
    for (size_t i = 0; i < mb.module_count; i++) {
        const struct mb2_module *m = &mb.modules[i];
        char name[64];
        const char *label = first_word(m->cmdline, name, sizeof(name));
        uint64_t size = m->end - m->start;
        struct image_info info;
        const char *err;

        if (size != 0 && (m->end > phys_max_addr() || m->start < LOW_MEMORY_END)) {
            pr_err("module %zu '%s': placed at %#llx-%#llx, outside usable RAM", i, label,
                   (unsigned long long)m->start, (unsigned long long)m->end);
            continue;
        }
        if (image_identify(phys_to_virt(m->start), size, &info, &err)) {
            pr_err("module %zu '%s' (%llu bytes at %#llx) is broken: %s", i, label,
                   (unsigned long long)size, (unsigned long long)m->start, err);
            continue;
        }
        pr_info("module %zu '%s': %llu bytes at %#llx, %s%s%s, command line \"%s\"", i, label,
                (unsigned long long)size, (unsigned long long)m->start,
                image_kind_name(info.kind), info.multiboot1 ? ", multiboot kernel" : "",
                info.multiboot2 ? ", multiboot2 kernel" : "", m->cmdline);
    }
}

static void report_cpus(unsigned online)
{
    const struct virt_report *bsp = &cpus[0]->virt;

    pr_info("CPU: %s, family %#x model %#x stepping %u (%s)%s%s", bsp->brand[0] ? bsp->brand : "?",
            bsp->family, bsp->model, bsp->stepping, bsp->vendor,
            bsp->hypervisor_present ? ", running under hypervisor " : "",
            bsp->hypervisor_present ? bsp->hypervisor_sig : "");
    for (unsigned i = 0; i < cpu_count; i++) {
        struct percpu *c = cpus[i];
        if (c->state != CPU_ONLINE)
            continue;
        virt_report_log(i, &c->virt, i == 0 || config.verbose);
        const char *diff = virt_report_mismatch(bsp, &c->virt);
        if (diff)
            pr_warn("cpu%u differs from cpu0: %s", i, diff);
    }
    pr_info("SMP: %u of %u CPU(s) online", online, cpu_count);
}

static void fault_on_purpose(void *arg)
{
    (void)arg;
    /* A write to an unmapped address: the page fault path must stop this core only.
     * The address goes through a volatile so the compiler cannot see it is bogus. */
    static volatile uintptr_t unmapped = 0x10;
    *(volatile uint64_t *)unmapped = 0xDEAD;
}

static void run_scenario(void)
{
    switch (config.test) {
    case TEST_EXCEPTION_BSP:
        pr_info("test: executing UD2 on the BSP");
        __asm__ volatile("ud2");
        break;
    case TEST_EXCEPTION_AP: {
        struct percpu *victim = cpu_count > 1 ? cpus[cpu_count - 1] : NULL;
        if (!victim || victim->state != CPU_ONLINE) {
            pr_err("test: exception-ap needs an online application processor");
            break;
        }
        pr_info("test: cpu%u writes to an unmapped address", victim->index);
        smp_run_on(victim, fault_on_purpose, NULL, 100000);
        if (victim->state == CPU_FAULTED)
            pr_info("test: cpu%u faulted and is halted; cpu0 goes on", victim->index);
        else
            pr_err("test: cpu%u did not report its fault (state %d)", victim->index, victim->state);
        break;
    }
    case TEST_TIMER: {
        irq_enable();
        uint64_t before[MAX_CPUS];
        for (unsigned i = 0; i < cpu_count; i++)
            before[i] = cpus[i]->timer_ticks;
        udelay(TIMER_TEST_MS * 1000);
        for (unsigned i = 0; i < cpu_count; i++) {
            uint64_t ticks = cpus[i]->timer_ticks - before[i];
            pr_info("test: cpu%u: %llu LAPIC timer interrupts in %u ms (expected about %u)", i,
                    (unsigned long long)ticks, TIMER_TEST_MS, TIMER_HZ * TIMER_TEST_MS / 1000);
            if (cpus[i]->state == CPU_ONLINE && ticks == 0)
                pr_err("test: cpu%u received no timer interrupts", i);
        }
        break;
    }
    default:
        break;
    }
}

void __noreturn kmain(uint32_t magic, phys_addr_t mbi_phys)
{
    log_init();
    log_raw("\nhypervisor " HV_VERSION ": a teaching and sandboxing VMX hypervisor\n");
    parse_boot_info(magic, mbi_phys);
    config_parse(mb.cmdline);
    pr_info("boot loader: %s; command line: \"%s\"", mb.bootloader ? mb.bootloader : "?",
            mb.cmdline);

    init_memory(mbi_phys);
    struct percpu *bsp = percpu_alloc(0, 0, (uint64_t)(uintptr_t)bsp_stack_top);
    idt_init();
    cpu_init_tables(bsp);
    percpu_ready = true;
    console_fb_init(&mb.fb);
    if (mb.fb.present)
        pr_info("framebuffer: %ux%u, %u bpp, type %u at %#llx", mb.fb.width, mb.fb.height,
                mb.fb.bpp, mb.fb.type, (unsigned long long)mb.fb.addr);

    disable_legacy_pic();
    bool have_acpi = acpi_init(&mb) == 0;
    if (lapic_init(have_acpi ? acpi_madt.lapic_addr : 0))
        panic("no usable local APIC");
    lapic_enable();
    bsp->apic_id = lapic_id();
    tsc_calibrate();
    lapic_timer_calibrate();

    virt_survey_this_cpu(&bsp->virt);
    bsp->state = CPU_ONLINE;
    lapic_timer_start_periodic(TIMER_HZ);

    unsigned online = have_acpi ? smp_start_aps((unsigned)config.maxcpus) : 1;
    if (!have_acpi)
        pr_warn("SMP: no ACPI MADT, running on the boot CPU only");
    paging_drop_identity_map();
    check_modules();
    report_cpus(online);
    run_scenario();

    if (!bsp->virt.vmx_cpuid) {
        const struct virt_report *r = &bsp->virt;
        log_raw("VMX not available: CPUID.1:ECX.VMX = 0 on this %s CPU%s%s; this hypervisor "
                "needs Intel VT-x (on QEMU use KVM with -cpu host on an Intel host with nested "
                "VMX, or run under Bochs)\n", r->vendor,
                r->svm_cpuid ? " (it offers AMD SVM" : "",
                r->svm_cpuid ? (r->svm.npt ? " with NPT, which is not supported yet)"
                                           : " without NPT, not supported)") : "");
        finish_run(VERDICT_NOVMX, "CPUID.1:ECX.VMX = 0");
    }
    if (!bsp->virt.vmx_usable) {
        log_raw("VMX not usable: %s\n", bsp->virt.vmx_problem);
        finish_run(VERDICT_FAIL, bsp->virt.vmx_problem);
    }
    if (vms_init() == 0) {
        vms_create(&mb);
        vms_run();
        vms_shutdown();
    }
    finish_run(VERDICT_PASS, NULL);
}
