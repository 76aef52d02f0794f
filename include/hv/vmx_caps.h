/*
 * VMX capability reporting (SDM Vol. 3D, Appendix A "VMX Capability Reporting
 * Facility").  Decoding is pure so that host unit tests check it against MSR
 * values recorded on Bochs, real Intel CPUs and KVM's nested VMX.
 */
#ifndef HV_VMX_CAPS_H
#define HV_VMX_CAPS_H

#include <hv/types.h>

/* IA32_VMX_BASIC (SDM A.1). */
#define VMX_BASIC_REVISION_MASK     0x7FFFFFFFULL
#define VMX_BASIC_REGION_SIZE(b)    (((b) >> 32) & 0x1FFF)
#define VMX_BASIC_32BIT_ADDR        BIT(48)
#define VMX_BASIC_MEMTYPE(b)        (((b) >> 50) & 0xF)
#define VMX_BASIC_INS_OUTS_INFO     BIT(54)
#define VMX_BASIC_TRUE_CTLS         BIT(55)

/* Pin-based VM-execution controls (SDM Vol. 3C, 25.6.1). */
#define PIN_EXTERNAL_INTERRUPT_EXITING  BIT(0)
#define PIN_NMI_EXITING                 BIT(3)
#define PIN_VIRTUAL_NMIS                BIT(5)
#define PIN_VMX_PREEMPTION_TIMER        BIT(6)
#define PIN_POSTED_INTERRUPTS           BIT(7)

/* Primary processor-based VM-execution controls (25.6.2, table 25-6). */
#define PROC_INTERRUPT_WINDOW_EXITING   BIT(2)
#define PROC_USE_TSC_OFFSETTING         BIT(3)
#define PROC_HLT_EXITING                BIT(7)
#define PROC_INVLPG_EXITING             BIT(9)
#define PROC_MWAIT_EXITING              BIT(10)
#define PROC_RDPMC_EXITING              BIT(11)
#define PROC_RDTSC_EXITING              BIT(12)
#define PROC_CR3_LOAD_EXITING           BIT(15)
#define PROC_CR3_STORE_EXITING          BIT(16)
#define PROC_CR8_LOAD_EXITING           BIT(19)
#define PROC_CR8_STORE_EXITING          BIT(20)
#define PROC_USE_TPR_SHADOW             BIT(21)
#define PROC_NMI_WINDOW_EXITING         BIT(22)
#define PROC_MOV_DR_EXITING             BIT(23)
#define PROC_UNCONDITIONAL_IO_EXITING   BIT(24)
#define PROC_USE_IO_BITMAPS             BIT(25)
#define PROC_MONITOR_TRAP_FLAG          BIT(27)
#define PROC_USE_MSR_BITMAPS            BIT(28)
#define PROC_MONITOR_EXITING            BIT(29)
#define PROC_PAUSE_EXITING              BIT(30)
#define PROC_ACTIVATE_SECONDARY_CONTROLS BIT(31)

/* Secondary processor-based VM-execution controls (table 25-7). */
#define PROC2_VIRTUALIZE_APIC_ACCESSES  BIT(0)
#define PROC2_ENABLE_EPT                BIT(1)
#define PROC2_DESCRIPTOR_TABLE_EXITING  BIT(2)
#define PROC2_ENABLE_RDTSCP             BIT(3)
#define PROC2_VIRTUALIZE_X2APIC_MODE    BIT(4)
#define PROC2_ENABLE_VPID               BIT(5)
#define PROC2_WBINVD_EXITING            BIT(6)
#define PROC2_UNRESTRICTED_GUEST        BIT(7)
#define PROC2_APIC_REGISTER_VIRT        BIT(8)
#define PROC2_VIRTUAL_INTERRUPT_DELIVERY BIT(9)
#define PROC2_PAUSE_LOOP_EXITING        BIT(10)
#define PROC2_RDRAND_EXITING            BIT(11)
#define PROC2_ENABLE_INVPCID            BIT(12)
#define PROC2_ENABLE_VMFUNC             BIT(13)
#define PROC2_VMCS_SHADOWING            BIT(14)
#define PROC2_RDSEED_EXITING            BIT(16)
#define PROC2_EPT_VIOLATION_VE          BIT(18)
#define PROC2_ENABLE_XSAVES_XRSTORS     BIT(20)

/* VM-exit controls (25.7.1, table 25-13). */
#define EXIT_SAVE_DEBUG_CONTROLS        BIT(2)
#define EXIT_HOST_ADDRESS_SPACE_SIZE    BIT(9)
#define EXIT_LOAD_IA32_PERF_GLOBAL_CTRL BIT(12)
#define EXIT_ACK_INTERRUPT_ON_EXIT      BIT(15)
#define EXIT_SAVE_IA32_PAT              BIT(18)
#define EXIT_LOAD_IA32_PAT              BIT(19)
#define EXIT_SAVE_IA32_EFER             BIT(20)
#define EXIT_LOAD_IA32_EFER             BIT(21)
#define EXIT_SAVE_VMX_PREEMPTION_TIMER  BIT(22)

/* VM-entry controls (25.8.1, table 25-15). */
#define ENTRY_LOAD_DEBUG_CONTROLS       BIT(2)
#define ENTRY_IA32E_MODE_GUEST          BIT(9)
#define ENTRY_LOAD_IA32_PAT             BIT(14)
#define ENTRY_LOAD_IA32_EFER            BIT(15)

/* IA32_VMX_EPT_VPID_CAP (SDM A.10). */
#define EPT_CAP_EXECUTE_ONLY            BIT(0)
#define EPT_CAP_WALK_4                  BIT(6)
#define EPT_CAP_WALK_5                  BIT(7)
#define EPT_CAP_MEMTYPE_UC              BIT(8)
#define EPT_CAP_MEMTYPE_WB              BIT(14)
#define EPT_CAP_PDE_2MB                 BIT(16)
#define EPT_CAP_PDPTE_1GB               BIT(17)
#define EPT_CAP_INVEPT                  BIT(20)
#define EPT_CAP_ACCESSED_DIRTY          BIT(21)
#define EPT_CAP_INVEPT_SINGLE_CONTEXT   BIT(25)
#define EPT_CAP_INVEPT_ALL_CONTEXT      BIT(26)
#define VPID_CAP_INVVPID                BIT(32)
#define VPID_CAP_INVVPID_ADDRESS        BIT(40)
#define VPID_CAP_INVVPID_SINGLE_CONTEXT BIT(41)
#define VPID_CAP_INVVPID_ALL_CONTEXT    BIT(42)

/* IA32_VMX_MISC (SDM A.6). */
#define VMX_MISC_PREEMPT_SHIFT(m)       ((unsigned)((m) & 0x1F))
#define VMX_MISC_SAVES_LMA              BIT(5)
#define VMX_MISC_ACTIVITY_HLT           BIT(6)
#define VMX_MISC_ACTIVITY_SHUTDOWN      BIT(7)
#define VMX_MISC_ACTIVITY_WAIT_SIPI     BIT(8)
#define VMX_MISC_MAX_MSR_LIST(m)        (512u * ((((m) >> 25) & 7) + 1))

/* IA32_FEATURE_CONTROL (SDM Vol. 3C, 24.7). */
#define FEATURE_CONTROL_LOCKED          BIT(0)
#define FEATURE_CONTROL_VMX_IN_SMX      BIT(1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX BIT(2)

/* Raw capability MSRs; an MSR the CPU does not have is left 0 and `have_*` false. */
struct vmx_msrs {
    uint64_t basic;
    uint64_t pinbased, procbased, exit, entry;
    uint64_t misc;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t vmcs_enum;
    uint64_t procbased2;            /* when primary allowed-1 has bit 31 */
    uint64_t ept_vpid_cap;          /* when secondary allowed-1 has EPT or VPID */
    uint64_t vmfunc;                /* when secondary allowed-1 has VMFUNC */
    uint64_t true_pinbased, true_procbased, true_exit, true_entry;  /* basic bit 55 */
    bool have_procbased2, have_ept_vpid_cap, have_vmfunc, have_true;
};

/* Allowed settings of one 32-bit control field (SDM A.3 - A.5). */
struct vmx_ctl_caps {
    uint32_t must_be_1;             /* allowed-0 settings: bits that cannot be 0 */
    uint32_t may_be_1;              /* allowed-1 settings */
};

struct vmx_caps {
    uint32_t revision_id;
    uint32_t region_size;
    uint8_t vmcs_memtype;
    bool phys_addr_32bit;
    bool true_ctls;
    bool ins_outs_info;

    /* Effective allowed settings (from the TRUE MSRs when bit 55 is set). */
    struct vmx_ctl_caps pin, proc, proc2, exit, entry;

    bool ept, vpid, unrestricted_guest, preemption_timer;
    unsigned preemption_timer_shift;        /* timer counts down every 2^shift TSC ticks */
    bool ept_walk4, ept_walk5, ept_wb, ept_uc, ept_2mb, ept_1gb, ept_ad, ept_execute_only;
    bool invept, invept_single, invept_all;
    bool invvpid, invvpid_single, invvpid_all;
    bool hlt_activity_state;
    bool io_bitmaps, msr_bitmaps;
    bool load_efer, save_efer, ack_interrupt_on_exit;
    unsigned max_msr_list;
};

void vmx_caps_decode(const struct vmx_msrs *msrs, struct vmx_caps *caps);

/*
 * Computes a control field: `required` bits must be settable (else *missing
 * gets those that are not, and -1 is returned), `wanted` bits are set when
 * allowed, and bits the CPU forces to 1 are always set (SDM A.3.1: a 0 in the
 * allowed-0 half means the control may be 0).
 */
int vmx_ctl_compute(const struct vmx_ctl_caps *caps, uint32_t required, uint32_t wanted,
                    uint32_t *value, uint32_t *missing);

/* The VM-execution, VM-exit and VM-entry controls this hypervisor runs guests with. */
struct vmx_controls {
    uint32_t pin, proc, proc2, exit, entry;
};

struct vmx_ctl_failure {
    const char *field;          /* "secondary processor-based", ... */
    const char *msr;            /* the capability MSR that refused */
    const char *control;        /* the SDM name of the first missing control */
    uint32_t missing, may_be_1;
};

/*
 * Computes every control field from the capabilities: what the hypervisor
 * requires (EPT, unrestricted guest, I/O and MSR bitmaps, HLT exiting,
 * external-interrupt exiting, a 64-bit host, acknowledge interrupt on exit,
 * save/load IA32_EFER), what it uses when offered (VPID, the preemption
 * timer, save/load PAT, ...) and what the CPU forces.  `long_mode_guest`
 * sets "IA-32e mode guest".  Returns 0, or -1 with *fail naming the missing
 * required control.
 */
int vmx_compute_controls(const struct vmx_caps *caps, bool long_mode_guest,
                         struct vmx_controls *out, struct vmx_ctl_failure *fail);

/*
 * Names the first feature this hypervisor needs that the capabilities lack
 * (EPT, unrestricted guest, 4-level EPT walks, write-back EPT memory, ...),
 * or NULL when everything needed is there.
 */
const char *vmx_caps_missing_feature(const struct vmx_caps *caps);

#endif
