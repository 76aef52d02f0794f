/*
 * hello64: the elf64 example guest.  Prints its entry state (argument
 * string, RAM size), checks the hypervisor's CPUID signature, asks for the
 * VM info with a hypercall, and exits with status=N from its arguments
 * (default 0).  It needs the hypervisor's elf64 entry mode (or
 * tools/elf64boot under QEMU, where the signature check fails: exit 1).
 */
#include <guest/guest.h>

#define EXIT_NO_HYPERVISOR  1
#define EXIT_HYPERCALL_FAILED 2
#define SIGNATURE_BYTES     12
#define MIB                 (1024 * 1024)

/* The three signature registers in EBX, ECX, EDX order, as text. */
static void signature_text(const struct cpuid_regs *r, char out[SIGNATURE_BYTES + 1])
{
    const uint32_t regs[3] = { r->ebx, r->ecx, r->edx };

    memcpy(out, regs, SIGNATURE_BYTES);
    out[SIGNATURE_BYTES] = '\0';
    for (int i = 0; i < SIGNATURE_BYTES; i++) {
        if (out[i] && (out[i] < ' ' || out[i] > '~'))
            out[i] = '.';
    }
}

/* Checks leaf 0x40000000 directly (not just hv_present()) to show the details. */
static bool check_signature(void)
{
    bool hv_bit = cpuid(1, 0).ecx & CPUID_1_ECX_HYPERVISOR;
    struct cpuid_regs r = cpuid(HV_CPUID_LEAF_BASE, 0);
    char text[SIGNATURE_BYTES + 1];
    bool match = r.ebx == HV_CPUID_SIG_EBX && r.ecx == HV_CPUID_SIG_ECX && r.edx == HV_CPUID_SIG_EDX;

    signature_text(&r, text);
    printf("hello64: CPUID.1:ECX.hypervisor = %d\n", hv_bit ? 1 : 0);
    if (match && hv_bit) {
        printf("hello64: hypervisor signature ok: \"%s\" (max leaf 0x%x)\n", text, r.eax);
        return true;
    }
    printf("hello64: hypervisor signature BAD: \"%s\" (ebx 0x%08x ecx 0x%08x edx 0x%08x)\n",
           text, r.ebx, r.ecx, r.edx);
    return false;
}

int guest_main64(const char *args, uint64_t ram_size)
{
    printf("hello from hello64 (64-bit long mode)\n");
    printf("hello64: args \"%s\" at 0x%lx\n", args, (unsigned long)(uintptr_t)args);
    printf("hello64: ram %lu bytes (%lu MiB)\n", (unsigned long)ram_size,
           (unsigned long)(ram_size / MIB));
    if (!check_signature()) {
        printf("hello64: not running under the hypervisor, exiting with status %d\n",
               EXIT_NO_HYPERVISOR);
        return EXIT_NO_HYPERVISOR;
    }

    unsigned long info = hv_hypercall(HC_GET_VM_INFO, 0, 0, 0, 0);

    if ((long)info < 0) {           /* HC_ENOSYS and friends */
        printf("hello64: HC_GET_VM_INFO failed: %ld\n", (long)info);
        return EXIT_HYPERCALL_FAILED;
    }
    printf("hello64: vm info 0x%lx: vm id %lu, host cpu %lu\n", info, info >> 32,
           info & 0xFFFFFFFFul);

    int status = (int)cmdline_get_or(args, "status", 0);

    printf("hello64: exiting with status %d\n", status);
    return status;
}
