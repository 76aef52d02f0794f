/*
 * VMCS field encodings (SDM Vol. 3D, Appendix B) and the VMX instructions.
 * Vendor-specific: only kernel/vmx/ includes this header.
 */
#ifndef HV_VMCS_H
#define HV_VMCS_H

#include <hv/types.h>

/* 16-bit fields (B.1). */
#define VMCS_VPID                           0x0000
#define VMCS_GUEST_ES_SELECTOR              0x0800
#define VMCS_GUEST_CS_SELECTOR              0x0802
#define VMCS_GUEST_SS_SELECTOR              0x0804
#define VMCS_GUEST_DS_SELECTOR              0x0806
#define VMCS_GUEST_FS_SELECTOR              0x0808
#define VMCS_GUEST_GS_SELECTOR              0x080A
#define VMCS_GUEST_LDTR_SELECTOR            0x080C
#define VMCS_GUEST_TR_SELECTOR              0x080E
#define VMCS_HOST_ES_SELECTOR               0x0C00
#define VMCS_HOST_CS_SELECTOR               0x0C02
#define VMCS_HOST_SS_SELECTOR               0x0C04
#define VMCS_HOST_DS_SELECTOR               0x0C06
#define VMCS_HOST_FS_SELECTOR               0x0C08
#define VMCS_HOST_GS_SELECTOR               0x0C0A
#define VMCS_HOST_TR_SELECTOR               0x0C0C

/* 64-bit fields (B.2). */
#define VMCS_IO_BITMAP_A                    0x2000
#define VMCS_IO_BITMAP_B                    0x2002
#define VMCS_MSR_BITMAP                     0x2004
#define VMCS_EXIT_MSR_STORE_ADDR            0x2006
#define VMCS_EXIT_MSR_LOAD_ADDR             0x2008
#define VMCS_ENTRY_MSR_LOAD_ADDR            0x200A
#define VMCS_TSC_OFFSET                     0x2010
#define VMCS_EPT_POINTER                    0x201A
#define VMCS_GUEST_PHYSICAL_ADDRESS         0x2400
#define VMCS_LINK_POINTER                   0x2800
#define VMCS_GUEST_IA32_DEBUGCTL            0x2802
#define VMCS_GUEST_IA32_PAT                 0x2804
#define VMCS_GUEST_IA32_EFER                0x2806
#define VMCS_GUEST_PDPTE0                   0x280A
#define VMCS_GUEST_PDPTE1                   0x280C
#define VMCS_GUEST_PDPTE2                   0x280E
#define VMCS_GUEST_PDPTE3                   0x2810
#define VMCS_HOST_IA32_PAT                  0x2C00
#define VMCS_HOST_IA32_EFER                 0x2C02

/* 32-bit fields (B.3). */
#define VMCS_PIN_BASED_CONTROLS             0x4000
#define VMCS_PROC_BASED_CONTROLS            0x4002
#define VMCS_EXCEPTION_BITMAP               0x4004
#define VMCS_PAGE_FAULT_ERROR_CODE_MASK     0x4006
#define VMCS_PAGE_FAULT_ERROR_CODE_MATCH    0x4008
#define VMCS_CR3_TARGET_COUNT               0x400A
#define VMCS_EXIT_CONTROLS                  0x400C
#define VMCS_EXIT_MSR_STORE_COUNT           0x400E
#define VMCS_EXIT_MSR_LOAD_COUNT            0x4010
#define VMCS_ENTRY_CONTROLS                 0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT           0x4014
#define VMCS_ENTRY_INTERRUPTION_INFO        0x4016
#define VMCS_ENTRY_EXCEPTION_ERROR_CODE     0x4018
#define VMCS_ENTRY_INSTRUCTION_LENGTH       0x401A
#define VMCS_TPR_THRESHOLD                  0x401C
#define VMCS_SECONDARY_PROC_BASED_CONTROLS  0x401E
#define VMCS_VM_INSTRUCTION_ERROR           0x4400
#define VMCS_EXIT_REASON                    0x4402
#define VMCS_EXIT_INTERRUPTION_INFO         0x4404
#define VMCS_EXIT_INTERRUPTION_ERROR_CODE   0x4406
#define VMCS_IDT_VECTORING_INFO             0x4408
#define VMCS_IDT_VECTORING_ERROR_CODE       0x440A
#define VMCS_EXIT_INSTRUCTION_LENGTH        0x440C
#define VMCS_EXIT_INSTRUCTION_INFO          0x440E
#define VMCS_GUEST_ES_LIMIT                 0x4800
#define VMCS_GUEST_CS_LIMIT                 0x4802
#define VMCS_GUEST_SS_LIMIT                 0x4804
#define VMCS_GUEST_DS_LIMIT                 0x4806
#define VMCS_GUEST_FS_LIMIT                 0x4808
#define VMCS_GUEST_GS_LIMIT                 0x480A
#define VMCS_GUEST_LDTR_LIMIT               0x480C
#define VMCS_GUEST_TR_LIMIT                 0x480E
#define VMCS_GUEST_GDTR_LIMIT               0x4810
#define VMCS_GUEST_IDTR_LIMIT               0x4812
#define VMCS_GUEST_ES_ACCESS_RIGHTS         0x4814
#define VMCS_GUEST_CS_ACCESS_RIGHTS         0x4816
#define VMCS_GUEST_SS_ACCESS_RIGHTS         0x4818
#define VMCS_GUEST_DS_ACCESS_RIGHTS         0x481A
#define VMCS_GUEST_FS_ACCESS_RIGHTS         0x481C
#define VMCS_GUEST_GS_ACCESS_RIGHTS         0x481E
#define VMCS_GUEST_LDTR_ACCESS_RIGHTS       0x4820
#define VMCS_GUEST_TR_ACCESS_RIGHTS         0x4822
#define VMCS_GUEST_INTERRUPTIBILITY_STATE   0x4824
#define VMCS_GUEST_ACTIVITY_STATE           0x4826
#define VMCS_GUEST_SYSENTER_CS              0x482A
#define VMCS_PREEMPTION_TIMER_VALUE         0x482E
#define VMCS_HOST_IA32_SYSENTER_CS          0x4C00

/* Natural-width fields (B.4). */
#define VMCS_CR0_GUEST_HOST_MASK            0x6000
#define VMCS_CR4_GUEST_HOST_MASK            0x6002
#define VMCS_CR0_READ_SHADOW                0x6004
#define VMCS_CR4_READ_SHADOW                0x6006
#define VMCS_EXIT_QUALIFICATION             0x6400
#define VMCS_GUEST_LINEAR_ADDRESS           0x640A
#define VMCS_GUEST_CR0                      0x6800
#define VMCS_GUEST_CR3                      0x6802
#define VMCS_GUEST_CR4                      0x6804
#define VMCS_GUEST_ES_BASE                  0x6806
#define VMCS_GUEST_CS_BASE                  0x6808
#define VMCS_GUEST_SS_BASE                  0x680A
#define VMCS_GUEST_DS_BASE                  0x680C
#define VMCS_GUEST_FS_BASE                  0x680E
#define VMCS_GUEST_GS_BASE                  0x6810
#define VMCS_GUEST_LDTR_BASE                0x6812
#define VMCS_GUEST_TR_BASE                  0x6814
#define VMCS_GUEST_GDTR_BASE                0x6816
#define VMCS_GUEST_IDTR_BASE                0x6818
#define VMCS_GUEST_DR7                      0x681A
#define VMCS_GUEST_RSP                      0x681C
#define VMCS_GUEST_RIP                      0x681E
#define VMCS_GUEST_RFLAGS                   0x6820
#define VMCS_GUEST_PENDING_DEBUG_EXCEPTIONS 0x6822
#define VMCS_GUEST_SYSENTER_ESP             0x6824
#define VMCS_GUEST_SYSENTER_EIP             0x6826
#define VMCS_HOST_CR0                       0x6C00
#define VMCS_HOST_CR3                       0x6C02
#define VMCS_HOST_CR4                       0x6C04
#define VMCS_HOST_FS_BASE                   0x6C06
#define VMCS_HOST_GS_BASE                   0x6C08
#define VMCS_HOST_TR_BASE                   0x6C0A
#define VMCS_HOST_GDTR_BASE                 0x6C0C
#define VMCS_HOST_IDTR_BASE                 0x6C0E
#define VMCS_HOST_IA32_SYSENTER_ESP         0x6C10
#define VMCS_HOST_IA32_SYSENTER_EIP         0x6C12
#define VMCS_HOST_RSP                       0x6C14
#define VMCS_HOST_RIP                       0x6C16

/* Segment access rights (SDM Vol. 3C, 25.4.1, table 25-2). */
#define VMX_AR_TYPE_MASK        0xF
#define VMX_AR_S                BIT(4)
#define VMX_AR_DPL_SHIFT        5
#define VMX_AR_P                BIT(7)
#define VMX_AR_L                BIT(13)
#define VMX_AR_DB               BIT(14)
#define VMX_AR_G                BIT(15)
#define VMX_AR_UNUSABLE         BIT(16)

/* Interruption information (entry 25.8.3, exit 25.9.2). */
#define INTR_INFO_VECTOR_MASK       0xFF
#define INTR_INFO_TYPE_SHIFT        8
#define INTR_TYPE_EXTERNAL          0
#define INTR_TYPE_NMI               2
#define INTR_TYPE_HW_EXCEPTION      3
#define INTR_TYPE_SW_INTERRUPT      4
#define INTR_TYPE_PRIV_SW_EXCEPTION 5
#define INTR_TYPE_SW_EXCEPTION      6
#define INTR_INFO_ERROR_CODE        BIT(11)
#define INTR_INFO_NMI_UNBLOCKING    BIT(12)
#define INTR_INFO_VALID             BIT(31)

/* Guest activity states (25.4.2). */
#define ACTIVITY_ACTIVE             0
#define ACTIVITY_HLT                1
#define ACTIVITY_SHUTDOWN           2
#define ACTIVITY_WAIT_FOR_SIPI      3

#define EXIT_REASON_ENTRY_FAILURE   BIT(31)
#define EXIT_REASON_BASIC(r)        ((r) & 0xFFFF)

/* VMX instruction results (SDM Vol. 3C, 31.2): VMsucceed, VMfailInvalid (CF = 1,
 * no current VMCS to hold an error number), VMfailValid (ZF = 1, the number is in
 * the VM-instruction error field). */
enum vmx_result { VMX_OK = 0, VMX_FAIL_INVALID = 1, VMX_FAIL_VALID = 2 };


static inline enum vmx_result vmx_flags(uint8_t cf, uint8_t zf)
{
    return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK;
}

#define DEFINE_VMX_PTR_OP(name, insn)                                           \
    static inline enum vmx_result name(phys_addr_t pa)                          \
    {                                                                           \
        uint8_t cf, zf;                                                         \
        __asm__ volatile(insn " %[pa]; setc %[cf]; setz %[zf]"                  \
                         : [cf] "=qm"(cf), [zf] "=qm"(zf) : [pa] "m"(pa) : "cc", "memory"); \
        return vmx_flags(cf, zf);                                               \
    }
DEFINE_VMX_PTR_OP(vmxon, "vmxon")
DEFINE_VMX_PTR_OP(vmclear, "vmclear")
DEFINE_VMX_PTR_OP(vmptrld, "vmptrld")
#undef DEFINE_VMX_PTR_OP

static inline enum vmx_result vmxoff(void)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxoff; setc %[cf]; setz %[zf]" : [cf] "=qm"(cf), [zf] "=qm"(zf) :: "cc", "memory");
    return vmx_flags(cf, zf);
}

/* VMREAD/VMWRITE on the current VMCS.  These sit on the exit path: no checks
 * beyond what the CPU does; a failure here is a hypervisor bug (wrong field). */
static inline uint64_t vmcs_read(uint64_t field)
{
    uint64_t v;
    __asm__ volatile("vmread %[f], %[v]" : [v] "=r"(v) : [f] "r"(field) : "cc");
    return v;
}

static inline void vmcs_write(uint64_t field, uint64_t v)
{
    __asm__ volatile("vmwrite %[v], %[f]" :: [f] "r"(field), [v] "rm"(v) : "cc", "memory");
}

/* VMWRITE with the result checked: used while building a VMCS. */
static inline enum vmx_result vmcs_write_checked(uint64_t field, uint64_t v)
{
    uint8_t cf, zf;
    __asm__ volatile("vmwrite %[v], %[f]; setc %[cf]; setz %[zf]"
                     : [cf] "=qm"(cf), [zf] "=qm"(zf) : [f] "r"(field), [v] "rm"(v) : "cc", "memory");
    return vmx_flags(cf, zf);
}

/* INVEPT / INVVPID types (SDM Vol. 3C, 31.3). */
#define INVEPT_SINGLE_CONTEXT   1
#define INVEPT_ALL_CONTEXT      2
#define INVVPID_SINGLE_CONTEXT  1
#define INVVPID_ALL_CONTEXT     2

static inline enum vmx_result invept(uint64_t type, uint64_t eptp)
{
    struct { uint64_t eptp, reserved; } desc = { eptp, 0 };
    uint8_t cf, zf;
    __asm__ volatile("invept %[d], %[t]; setc %[cf]; setz %[zf]"
                     : [cf] "=qm"(cf), [zf] "=qm"(zf) : [d] "m"(desc), [t] "r"(type) : "cc", "memory");
    return vmx_flags(cf, zf);
}

static inline enum vmx_result invvpid(uint64_t type, uint16_t vpid)
{
    struct { uint64_t vpid, addr; } desc = { vpid, 0 };
    uint8_t cf, zf;
    __asm__ volatile("invvpid %[d], %[t]; setc %[cf]; setz %[zf]"
                     : [cf] "=qm"(cf), [zf] "=qm"(zf) : [d] "m"(desc), [t] "r"(type) : "cc", "memory");
    return vmx_flags(cf, zf);
}

const char *vmx_instruction_error_name(uint32_t error);
const char *vmx_exit_reason_name(uint32_t basic_reason);
/* "VMfailInvalid" or "VMfailValid: <error name> (error N)" for the current VMCS. */
const char *vmx_result_describe(enum vmx_result r, char *buf, size_t n);

#endif
