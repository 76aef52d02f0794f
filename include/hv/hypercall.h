/*
 * The guest ABI: what a guest may ask of the hypervisor.  Shared, unchanged,
 * by the kernel and the guest SDK (guests/sdk/), so it holds only constants.
 *
 * Hypercalls: VMCALL with
 *     RAX = hypercall number, RBX, RCX, RDX, RSI = arguments 1-4
 *     (in 32-bit and real mode: the low halves, EAX/EBX/ECX/EDX/ESI)
 * and the result in RAX (EAX); every other register is preserved.  Unknown
 * numbers return HC_ENOSYS; bad arguments return HC_EINVAL or HC_EFAULT.
 * A guest can tell that it runs under this hypervisor from CPUID leaf
 * 0x40000000: EBX, ECX, EDX spell HV_CPUID_SIGNATURE, EAX is the highest
 * hypervisor leaf.
 *
 * Debug console: every byte written to port HV_DEBUG_CONSOLE_PORT (0xE9, the
 * Bochs/QEMU "debugcon" port) goes to the host console, one line at a time,
 * prefixed with the VM's name.  NUL bytes are dropped (benchmarks use them).
 */
#ifndef HV_HYPERCALL_H
#define HV_HYPERCALL_H

#define HV_CPUID_LEAF_BASE      0x40000000u
#define HV_CPUID_SIGNATURE      "HVTEACHVMX\0\0"  /* EBX "HVTE", ECX "ACHV", EDX "MX\0\0" */
#define HV_CPUID_SIG_EBX        0x45545648u       /* "HVTE" */
#define HV_CPUID_SIG_ECX        0x56484341u       /* "ACHV" */
#define HV_CPUID_SIG_EDX        0x0000584Du       /* "MX\0\0" */

#define HV_DEBUG_CONSOLE_PORT   0xE9

/* Hypercall numbers. */
#define HC_EXIT                 0   /* arg1: exit status (0 = success); does not return */
#define HC_CONSOLE_WRITE        1   /* arg1: guest linear address, arg2: length (<= 4096);
                                       returns bytes written */
#define HC_NOP                  2   /* returns 0: the cheapest round trip, for benchmarks */
#define HC_GET_VM_INFO          3   /* returns (vm id << 32) | host cpu index (64-bit guests),
                                       EAX = vm id (32-bit guests) */

/* Results (as unsigned machine words: -1, -2, -3). */
#define HC_ENOSYS               (-1L)
#define HC_EINVAL               (-2L)
#define HC_EFAULT               (-3L)

#define HC_CONSOLE_WRITE_MAX    4096

#endif
