/* Hypervisor detection, hypercalls and exit. */
#include <guest/guest.h>

enum detect_state { NOT_DETECTED, ABSENT, PRESENT };

static enum detect_state hv_state = NOT_DETECTED;

/*
 * The hypervisor bit first: without it, leaf 0x40000000 is not a hypervisor
 * leaf at all (Intel CPUs return the highest basic leaf's data there).
 */
static bool hv_detect(void)
{
    struct cpuid_regs r = cpuid(1, 0);

    if (!(r.ecx & CPUID_1_ECX_HYPERVISOR))
        return false;
    r = cpuid(HV_CPUID_LEAF_BASE, 0);
    return r.ebx == HV_CPUID_SIG_EBX && r.ecx == HV_CPUID_SIG_ECX && r.edx == HV_CPUID_SIG_EDX;
}

bool hv_present(void)
{
    if (hv_state == NOT_DETECTED)
        hv_state = hv_detect() ? PRESENT : ABSENT;
    return hv_state == PRESENT;
}

unsigned long hv_hypercall(unsigned long nr, unsigned long a1, unsigned long a2,
                           unsigned long a3, unsigned long a4)
{
    if (!hv_present())
        return (unsigned long)HC_ENOSYS;
    return hv_vmcall(nr, a1, a2, a3, a4);
}

noreturn void hv_exit(int status)
{
    if (hv_present())
        hv_vmcall(HC_EXIT, (unsigned long)(long)status, 0, 0, 0);
    /* Not under the hypervisor (or HC_EXIT came back, which it must not):
     * QEMU's isa-debug-exit takes a byte; without that device this is a
     * write to nowhere and the HLT loop below stops the CPU instead. */
    outb(QEMU_DEBUG_EXIT_PORT, (uint8_t)status);
    cpu_halt_forever();
}
