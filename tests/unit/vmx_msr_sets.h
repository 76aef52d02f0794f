/*
 * VMX capability MSR values recorded on real and emulated CPUs, shared by
 * test_vmx_caps.c (decoding) and test_vmx_controls.c (control fields).
 * Each function returns a fresh copy that a test may modify.
 *
 * Recorded MSR values (an MSR's value = (allowed-1 << 32) | allowed-0):
 *
 * 1. Bochs 2.7, cpu model corei7_skylake_x: printed by this kernel's own VMX
 *    report when booted under Bochs (the run that captured
 *    tests/fixtures/acpi/madt-bochs-4cpu.bin; also in the shared emulator
 *    notes).  Bochs sets IA32_VMX_BASIC[55], so the report shows the TRUE_*
 *    MSRs; the non-TRUE pin/proc/exit/entry allowed-0 halves below are
 *    reconstructed by adding the "default1" bits (SDM A.2): pin 0x16,
 *    proc 0x0401E172, exit 0x00036DFF, entry 0x000011FF.
 *
 * 2. A real Intel CPU: Core i7-9750H (Coffee Lake-H, CPUID 0x000906EA) in an
 *    MSI GS65 Stealth 9SE, from the VirtualBox 6.1.16 VBox.log posted in the
 *    VirtualBox forum thread "Vbox 6.1 Black Screen on Startup Ubuntu 20.04"
 *    (2021-01-14): VirtualBox's ring-0 "HM:" lines print the host's raw
 *    MSR_IA32_VMX_* values.  The same TRUE-control, MISC and EPT/VPID values
 *    appear in the VBox.logs of github.com/myspaghetti/macos-virtualbox
 *    issues #224 and #135 (hosts of the same CPU generation).
 *
 * 3. KVM's nested VMX as an L1 guest sees it, on Google Compute Engine
 *    (n2 machine type, Cascade Lake, nested virtualization enabled; GCE's L0
 *    is KVM: IA32_VMX_BASIC carries KVM's VMCS12_REVISION 0x11e57ed0).  From
 *    two SJSU CMPE 283 "discover VMX features" reports (a kernel module that
 *    rdmsr's the capability MSRs and prints them to dmesg), found with the
 *    code search:
 *    - report A (GCE): IA32_VMX_BASIC 0x00d8100011e57ed0 and the TRUE pin,
 *      proc, exit and entry MSRs: 0x3f00000016, 0xf7b9fffe04006172,
 *      0x3fefff00036dfb, 0xd3ff000011fb;
 *    - report B (GCE n2-standard-2, Cascade Lake): the non-TRUE MSRs
 *      0x481-0x484 and 0x48B: 0x3f00000016, 0xf7b9fffe0401e172,
 *      0x3fefff00036dff, 0xd3ff000011ff, 0x51ff00000000.
 *    The two agree: same allowed-1 halves, and the non-TRUE allowed-0 halves
 *    are the TRUE ones plus the default1 bits, as KVM's vmx_get_vmx_msr()
 *    reports them.  IA32_VMX_MISC and IA32_VMX_EPT_VPID_CAP are in neither
 *    report: they are what upstream KVM's arch/x86/kvm/vmx/nested.c
 *    (nested_vmx_setup_misc_data, nested_vmx_setup_secondary_ctls) computes
 *    on such a host with EPT A/D bits off (PML is absent from proc2):
 *    misc = save-LMA | VMWRITE-any-field | HLT | wait-for-SIPI | timer rate 5;
 *    EPT caps = (execute-only, 4-level walk, WB, INVEPT) & host | single- and
 *    all-context INVEPT | 2 MiB | 1 GiB pages -- no UC memory type --, VPID
 *    caps = INVVPID with all four extents.
 */
#ifndef HV_UNIT_VMX_MSR_SETS_H
#define HV_UNIT_VMX_MSR_SETS_H

#include <hv/vmx_caps.h>

#define MSR(may1, must1) (((uint64_t)(may1) << 32) | (uint32_t)(must1))

static inline struct vmx_msrs bochs_skylake_x(void)
{
    return (struct vmx_msrs){
        .basic = 0x00d810000000002bULL,
        .pinbased = MSR(0x0000007f, 0x00000016),
        .procbased = MSR(0xf7f9fffe, 0x0401e172),
        .exit = MSR(0x007fffff, 0x00036dff),
        .entry = MSR(0x0000ffff, 0x000011ff),
        .true_pinbased = MSR(0x0000007f, 0x00000016),
        .true_procbased = MSR(0xf7f9fffe, 0x04006172),
        .true_exit = MSR(0x007fffff, 0x00036dfb),
        .true_entry = MSR(0x0000ffff, 0x000011fb),
        .procbased2 = MSR(0x02177fff, 0x00000000),
        .misc = 0x600401e0,
        .cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff,
        .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0x3727ff,
        .ept_vpid_cap = 0x00000f0106334141ULL,
        .have_procbased2 = true, .have_ept_vpid_cap = true, .have_true = true,
    };
}

static inline struct vmx_msrs intel_coffee_lake(void)
{
    return (struct vmx_msrs){
        .basic = 0x00da040000000004ULL,
        .pinbased = 0x0000007f00000016ULL,
        .procbased = 0xfff9fffe0401e172ULL,
        .procbased2 = 0x005fbcff00000000ULL,
        .entry = 0x0003ffff000011ffULL,
        .exit = 0x01ffffff00036dffULL,
        .true_pinbased = 0x0000007f00000016ULL,
        .true_procbased = 0xfff9fffe04006172ULL,
        .true_entry = 0x0003ffff000011fbULL,
        .true_exit = 0x01ffffff00036dfbULL,
        .misc = 0x7004c1e7,
        .vmcs_enum = 0x2e,
        .ept_vpid_cap = 0x00000f0106734141ULL,
        .vmfunc = 0x1,
        .cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff,
        .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0x3727ff,
        .have_procbased2 = true, .have_ept_vpid_cap = true, .have_vmfunc = true,
        .have_true = true,
    };
}

static inline struct vmx_msrs kvm_nested_gce(void)
{
    return (struct vmx_msrs){
        .basic = 0x00d8100011e57ed0ULL,
        .pinbased = 0x0000003f00000016ULL,
        .procbased = 0xf7b9fffe0401e172ULL,
        .procbased2 = 0x000051ff00000000ULL,
        .exit = 0x003fefff00036dffULL,
        .entry = 0x0000d3ff000011ffULL,
        .true_pinbased = 0x0000003f00000016ULL,
        .true_procbased = 0xf7b9fffe04006172ULL,
        .true_exit = 0x003fefff00036dfbULL,
        .true_entry = 0x0000d3ff000011fbULL,
        .misc = 0x20000165,
        .ept_vpid_cap = 0x00000f0106134041ULL,
        .cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff,
        .cr4_fixed0 = 0x2000, .cr4_fixed1 = 0x3767ff,
        .have_procbased2 = true, .have_ept_vpid_cap = true, .have_true = true,
    };
}

#endif
