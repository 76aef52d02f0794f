/*
 * The life of every VM, from GRUB module to teardown:
 *   vms_init()        VMXON on every core (backend cpu_enable)
 *   vms_create()      one VM per module: parse its command line, build its
 *                     memory map and EPT, load its image (on the BSP)
 *   vms_run()         each core runs the VMs assigned to it, one after the
 *                     other: VMCS setup, the run loop, teardown
 *   vms_shutdown()    VMXOFF on every core
 * A VM that fails to configure, load or enter is reported and skipped; the
 * other VMs and the host go on.
 */
#include <hv/vm_internal.h>
#include <hv/guestmem.h>
#include <hv/vms.h>
#include <hv/percpu.h>
#include <hv/smp.h>
#include <hv/lapic.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/format.h>
#include <hv/kstring.h>
#include <hv/log.h>
#include <hv/x86.h>
#include <hv/fpu.h>
#include <hv/config.h>

#define VM_WAIT_STEP_US     1000
#define TEST_WAIT_LIMIT_US  (600ULL * 1000 * 1000)  /* test runs: a safety net above any timeout= */
#define STOP_GRACE_US       (1000ULL * 1000)        /* a stop request is seen within 10 ms */
#define CPU_ANY             (~0ULL)

const struct virt_backend *virt;
static struct vm *input_vm;         /* receives host console input on its COM1 */
static struct vm *vms[VM_MAX];
static unsigned vm_count;

static const char *const stop_names[] = {
    [STOP_NONE] = "running", [STOP_EXITED] = "exited", [STOP_HALTED] = "halted",
    [STOP_MISBEHAVED] = "stopped", [STOP_ENTRY_FAILED] = "entry failed",
    [STOP_TRIPLE_FAULT] = "triple fault", [STOP_TIMEOUT] = "timed out",
    [STOP_HOST_ERROR] = "host error",
};

/* ---- console: the guest's bytes, one line at a time, prefixed with its name ---- */

void vm_console_flush(struct vm *vm)
{
    if (!vm->console_len)
        return;
    log_raw("[%s] %.*s\n", vm->name, (int)vm->console_len, vm->console);
    vm->console_len = 0;
}

void vm_console_putc(struct vm *vm, char c)
{
    if (c == '\0' || c == '\r')
        return;                 /* NUL: benchmarks; CR: lines end with LF */
    if (c == '\n') {
        if (vm->console_len == 0)
            log_raw("[%s]\n", vm->name);
        vm_console_flush(vm);
        return;
    }
    if ((unsigned char)c < 0x20 && c != '\t')
        c = '?';                /* no control sequences reach the host console */
    vm->console[vm->console_len++] = c;
    if (vm->console_len == sizeof(vm->console))
        vm_console_flush(vm);
}

/* ---- bring-up ---- */

static void enable_on_this_cpu(void *arg)
{
    int *ok = arg;
    if (virt->cpu_enable() == 0)
        __atomic_fetch_add(ok, 1, __ATOMIC_RELAXED);
}

static void disable_on_this_cpu(void *arg)
{
    (void)arg;
    virt->cpu_disable();
}

static unsigned online_cpus(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < cpu_count; i++)
        n += cpus[i] && cpus[i]->state == CPU_ONLINE;
    return n;
}

int vms_init(void)
{
    int ok = 0;
    if (!this_cpu()->virt.vmx_usable)
        return -1;
    virt = &vmx_backend;
    /* The host never uses SSE/AVX, but XSETBV on behalf of a guest needs
     * CR4.OSXSAVE in VMX root operation. */
    enable_on_this_cpu(&ok);
    for (unsigned i = 1; i < cpu_count; i++)
        if (cpus[i]->state == CPU_ONLINE && smp_run_on(cpus[i], enable_on_this_cpu, &ok, 1000000))
            pr_err("cpu%u did not answer the VMXON request", i);
    pr_info("%s: VMXON done on %d of %u online core(s)", virt->name, ok, online_cpus());
    return ok ? 0 : -1;
}

/* A core that is being stopped for good (an exception on an AP) leaves VMX
 * operation first, so that nothing of a VM stays cached or in force there. */
void vms_cpu_down(void)
{
    if (virt && this_cpu()->virt_enabled)
        virt->cpu_disable();
}

void vms_shutdown(void)
{
    if (!virt)
        return;
    for (unsigned i = 1; i < cpu_count; i++)
        if (cpus[i]->state == CPU_ONLINE)
            smp_run_on(cpus[i], disable_on_this_cpu, NULL, 1000000);
    disable_on_this_cpu(NULL);
    unsigned still_on = 0;
    for (unsigned i = 0; i < cpu_count; i++)
        still_on += cpus[i]->virt_enabled;
    pr_info("%s: VMXOFF done; %u core(s) still in VMX operation", virt->name, still_on);
}

/* ---- creation ---- */

static struct vm *find_vm(const char *name)
{
    for (unsigned i = 0; i < vm_count; i++)
        if (!strcmp(vms[i]->name, name))
            return vms[i];
    return NULL;
}

static int pick_cpu(const struct vm_config *cfg, char *err, size_t errlen)
{
    if (cfg->cpu != CPU_ANY) {
        if (cfg->cpu >= cpu_count || cpus[cfg->cpu]->state != CPU_ONLINE ||
            !cpus[cfg->cpu]->virt_enabled) {
            ksnprintf(err, errlen, "cpu=%llu is not an online core in VMX operation",
                      (unsigned long long)cfg->cpu);
            return -1;
        }
        return (int)cfg->cpu;
    }
    /* Round robin over the cores in VMX operation, APs first (cpu1, cpu2, ...,
     * cpu0, cpu1, ...), so that VMs run side by side by default. */
    unsigned usable[MAX_CPUS], n = 0;
    for (unsigned c = 1; c <= cpu_count; c++) {
        unsigned core = c % cpu_count;
        if (cpus[core]->state == CPU_ONLINE && cpus[core]->virt_enabled)
            usable[n++] = core;
    }
    return n ? (int)usable[vm_count % n] : 0;
}

static void free_guest_page(void *ctx, uint64_t gpa, phys_addr_t hpa, uint64_t size)
{
    (void)ctx;
    (void)gpa;
    phys_free_pages(hpa, size / PAGE_SIZE);
}

/* Device windows become MMIO regions of the guest-physical map: left unmapped
 * in the EPT so that every access exits and reaches the device. */
static int add_mmio_regions(struct vm *vm, char *err, size_t errlen)
{
    for (unsigned i = 0; i < vm->bus.nmmio; i++) {
        const struct bus_range *r = &vm->bus.mmio[i];
        if (vm->nregions == VM_MAX_REGIONS || vm_find_region(vm, r->base) ||
            vm_find_region(vm, r->base + r->len - 1)) {
            ksnprintf(err, errlen, "device %s at %#llx overlaps RAM or another region", r->name,
                      (unsigned long long)r->base);
            return -1;
        }
        vm->regions[vm->nregions++] = (struct mem_region){ r->base, r->len, MEM_MMIO, r->name };
    }
    return 0;
}

static void vm_free(struct vm *vm)
{
    vm_destroy_devices(vm);
    vm_decode_cache_free(vm);
    if (vm->backend) {
        virt->for_each_mapping(vm, free_guest_page, NULL);
        virt->vm_destroy(vm);
    }
    kfree(vm->vcpu);
    kfree(vm);
}

struct pending_vm {
    struct vm *vm;
    struct vcpu_boot_state boot;
};
static struct pending_vm pending[VM_MAX];

static struct vm *vm_create(const struct vm_config *cfg, const struct vm_image *img,
                            char *err, size_t errlen)
{
    if (find_vm(cfg->name)) {
        ksnprintf(err, errlen, "a VM named '%s' already exists", cfg->name);
        return NULL;
    }
    int cpu = pick_cpu(cfg, err, errlen);
    if (cpu < 0)
        return NULL;
    struct vm *vm = kzalloc(sizeof(*vm));
    struct vcpu *vcpu = kzalloc(sizeof(*vcpu));
    if (!vm || !vcpu) {
        kfree(vm);
        kfree(vcpu);
        ksnprintf(err, errlen, "out of memory");
        return NULL;
    }
    vm->id = vm_count + 1;
    memcpy(vm->name, cfg->name, sizeof(vm->name));
    memcpy(vm->args, cfg->args, sizeof(vm->args));
    vm->ram_size = cfg->mem;
    vm->regions[0] = (struct mem_region){ 0, cfg->mem, MEM_RAM, "RAM" };
    vm->nregions = 1;
    vm->host_cpu = cpu;
    vm->timeout_ms = cfg->timeout_ms;
    vm->vcpu = vcpu;
    vm->device_mask = cfg->device_mask;
    vcpu->vm = vm;
    vm_cpuid_init(vm);
    vm_ram_cache_init(vm);

    struct pending_vm *p = &pending[vm_count];
    if (vm_create_devices(vm, err, errlen) || add_mmio_regions(vm, err, errlen) ||
        virt->vm_init(vm) || vm_load_image(vm, cfg, img, &p->boot, err, errlen)) {
        if (!err[0])
            ksnprintf(err, errlen, "could not set up its EPT");
        vm_free(vm);
        return NULL;
    }
    p->vm = vm;
    vms[vm_count++] = vm;
    return vm;
}

void vms_create(const struct mb2_info *mb)
{
    static struct vm_image images[VM_MAX];
    char err[200];

    /* All configurations first: a VM's own files (modules with for=NAME) must
     * be known when its loader builds the multiboot information. */
    static struct vm_config cfgs[MB2_MAX_MODULES];  /* ~13 KiB: not on a 16 KiB stack */
    bool valid[MB2_MAX_MODULES] = { false };
    for (size_t i = 0; i < mb->module_count; i++) {
        err[0] = '\0';
        if (vm_config_parse(mb->modules[i].cmdline, &cfgs[i], err, sizeof(err))) {
            pr_err("module %zu: bad VM configuration \"%s\": %s; this VM is not started", i,
                   mb->modules[i].cmdline, err);
            continue;
        }
        valid[i] = true;
    }
    for (size_t i = 0; i < mb->module_count; i++) {
        if (!valid[i] || cfgs[i].owner[0])
            continue;
        if (vm_count == VM_MAX) {
            pr_err("VM '%s': more than %u VMs; not started", cfgs[i].name, VM_MAX);
            continue;
        }
        unsigned slot = vm_count;
        images[slot] = (struct vm_image){ phys_to_virt(mb->modules[i].start),
                                          mb->modules[i].end - mb->modules[i].start, {}, 0 };
        /* Files for this VM, in module order. */
        for (size_t j = 0; j < mb->module_count; j++)
            if (valid[j] && !strcmp(cfgs[j].owner, cfgs[i].name) &&
                images[slot].module_count < VM_MAX_GUEST_MODULES)
                images[slot].modules[images[slot].module_count++] =
                    (struct guest_module){ phys_to_virt(mb->modules[j].start),
                                           mb->modules[j].end - mb->modules[j].start,
                                           cfgs[j].module_string };
        err[0] = '\0';
        struct vm *vm = vm_create(&cfgs[i], &images[slot], err, sizeof(err));
        if (!vm) {
            pr_err("VM '%s': %s; this VM is not started, the others go on", cfgs[i].name, err);
            continue;
        }
        pr_info("VM '%s' (id %u): %llu MiB RAM, cpu%d, %u module(s), %llu KiB loaded",
                vm->name, vm->id, (unsigned long long)(vm->ram_size / MiB), vm->host_cpu,
                images[slot].module_count,
                (unsigned long long)(vm->stats.ram_pages * PAGE_SIZE / KiB));
    }
    for (unsigned i = 0; i < vm_count && !input_vm; i++)
        if (vm_has_uart(vms[i]) && (!config.input_vm[0] || !strcmp(config.input_vm, vms[i]->name)))
            input_vm = vms[i];
    if (input_vm)
        pr_info("host console input goes to VM '%s' (COM1)", input_vm->name);
    else if (config.input_vm[0])
        pr_err("input=%s: no VM of that name with a UART", config.input_vm);
    for (size_t i = 0; i < mb->module_count; i++)
        if (valid[i] && cfgs[i].owner[0] && !find_vm(cfgs[i].owner))
            pr_err("module %zu: for=%s names no VM; the file is not handed to anyone", i,
                   cfgs[i].owner);
}

/* ---- running ---- */

/* Called on preemption-timer and external-interrupt exits (at least every
 * 10 ms of guest time): deadlines, stop requests and console input are looked
 * at here, so that the hot exits (CPUID, I/O, hypercalls) never pay for them.
 * Returns false when the VM must stop. */
bool vm_periodic_check(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    if (vcpu->deadline_tsc && rdtsc() > vcpu->deadline_tsc) {
        vm_stop(vm, STOP_TIMEOUT, 0, "ran past its timeout of %llu ms",
                (unsigned long long)vm->timeout_ms);
        return false;
    }
    if (vcpu->stop_requested) {
        vm_stop(vm, STOP_TIMEOUT, 0, "stopped on request");
        return false;
    }
    if (vm == input_vm)
        vm_console_input(vm);
    return true;
}

static void vcpu_run_loop(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    struct vm_exit exit = { .kind = VMEXIT_NONE, .skip = false };

    for (;;) {
        if (unlikely(vm_interrupt_pending(vm)))
            vm_deliver_interrupts(vcpu);
        if (virt->vcpu_run(vcpu, &exit)) {
            vm->stats.exits[VMEXIT_ENTRY_FAILED]++;
            vm_handle_exit(vcpu, &exit);
            return;
        }
        vm->stats.exits[exit.kind]++;
        if (!vm_handle_exit(vcpu, &exit))
            return;
    }
}

static void report_vm(struct vm *vm)
{
    uint64_t total = 0;
    for (unsigned k = 0; k < VMEXIT_KIND_COUNT; k++)
        total += vm->stats.exits[k];
    const char *how = stop_names[vm->stop_reason];
    bool bad = vm->stop_reason != STOP_EXITED;
    log_printf(bad ? LOG_WARN : LOG_INFO,
               "VM '%s' %s: %s; status %llu, %llu exits, %llu KiB of its %llu MiB RAM backed, "
               "%llu port / %llu MMIO accesses no device owned, %llu MMIO instructions and %llu string "
               "I/O instructions emulated", vm->name, how, vm->stop_detail,
               (unsigned long long)vm->exit_status, (unsigned long long)total,
               (unsigned long long)(vm->stats.ram_pages * PAGE_SIZE / KiB),
               (unsigned long long)(vm->ram_size / MiB), (unsigned long long)vm->bus.unowned_pio,
               (unsigned long long)vm->bus.unowned_mmio, (unsigned long long)vm->stats.emulated,
               (unsigned long long)vm->stats.string_io);
    if (bad)
        vm_uart_log_tail(vm);
    log_raw("VMRESULT name=%s status=%s exit_status=%llu exits=%llu cpu=%d\n", vm->name,
            how, (unsigned long long)vm->exit_status, (unsigned long long)total, vm->host_cpu);
}

/* Runs one VM on the calling core, start to finish. */
static void run_vm_here(struct pending_vm *p)
{
    struct vm *vm = p->vm;
    struct vcpu *vcpu = vm->vcpu;

    vm->state = VM_RUNNING;
    memcpy(vcpu->gpr, p->boot.gpr, sizeof(vcpu->gpr));     /* EAX/EBX, RDI/RSI per protocol */
    fpu_init_for_guest();           /* nothing of the previous VM's vector state survives */
    if (virt->vcpu_init(vcpu, &p->boot)) {
        vm_stop(vm, STOP_HOST_ERROR, 0, "could not build its VMCS");
    } else {
        if (vm->timeout_ms)
            vcpu->deadline_tsc = rdtsc() + vm->timeout_ms * (tsc_frequency() / 1000);
        pr_info("VM '%s': entering the guest at RIP=%#llx on cpu%u", vm->name,
                (unsigned long long)p->boot.rip, this_cpu()->index);
        vcpu_run_loop(vcpu);
    }
    vm_console_flush(vm);
    virt->vcpu_destroy(vcpu);
    vm->state = VM_STOPPED;
    report_vm(vm);
}

/* Work for one core: every VM assigned to it, in creation order. */
static void run_core_queue(void *arg)
{
    int core = (int)(uintptr_t)arg;
    uint64_t flags = irq_save();      /* host interrupts arrive as VM exits meanwhile */
    for (unsigned i = 0; i < vm_count; i++)
        if (pending[i].vm->host_cpu == core)
            run_vm_here(&pending[i]);
    irq_restore(flags);
}

unsigned vms_run(void)
{
    bool used[MAX_CPUS] = { false };
    for (unsigned i = 0; i < vm_count; i++)
        used[vms[i]->host_cpu] = true;
    for (unsigned c = 1; c < cpu_count; c++)
        if (used[c] && smp_post(cpus[c], run_core_queue, (void *)(uintptr_t)c))
            pr_err("cpu%u cannot take its VMs", c);
    if (used[0])
        run_core_queue((void *)0);
    /* VMs are services: a normal run waits for them as long as they run.
     * Test runs have a bound: past it, every VM still running is asked to
     * stop (seen at its next timer exit). */
    for (unsigned c = 1; c < cpu_count; c++) {
        if (!used[c])
            continue;
        if (config.test == TEST_NONE) {
            while (smp_wait(cpus[c], TEST_WAIT_LIMIT_US) && cpus[c]->state == CPU_ONLINE)
                ;
        } else if (smp_wait(cpus[c], TEST_WAIT_LIMIT_US)) {
            for (unsigned i = 0; i < vm_count; i++)
                if (vms[i]->host_cpu == (int)c)
                    vms[i]->vcpu->stop_requested = true;
            if (smp_wait(cpus[c], STOP_GRACE_US))
                pr_err("cpu%u: its VMs did not stop when asked", c);
        }
    }

    unsigned exited = 0;
    input_vm = NULL;
    for (unsigned i = 0; i < vm_count; i++) {
        exited += vms[i]->stop_reason == STOP_EXITED;
        /* Never free what a core may still be running (a faulted or stuck core). */
        if (vms[i]->state != VM_STOPPED) {
            pr_err("VM '%s' on cpu%d did not finish: its memory is not reclaimed",
                   vms[i]->name, vms[i]->host_cpu);
            continue;
        }
        vm_free(vms[i]);
        vms[i] = NULL;
    }
    pr_info("VMs: %u run, %u exited normally; guest memory returned (%llu MiB free)",
            vm_count, exited, (unsigned long long)(phys_free_count() * PAGE_SIZE / MiB));
    return vm_count;
}
