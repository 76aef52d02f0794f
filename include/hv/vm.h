/*
 * Vendor-neutral virtual machines.  Generic code (kernel/vm/, devices, IPC)
 * sees only these structures and the exit records below; everything that
 * touches a VMCS lives in kernel/vmx/ behind struct virt_backend.
 */
#ifndef HV_VM_H
#define HV_VM_H

#include <hv/types.h>
#include <hv/devices.h>

#define VM_NAME_MAX         32
#define VM_MAX              16
#define VM_MAX_REGIONS      16
#define VM_CONSOLE_LINE     160
#define VM_ARGS_MAX         256

/* General registers in x86 encoding order, so decoders can index them. */
enum gpr {
    GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
    GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15, GPR_COUNT
};

/* Guest state kept by the backend (in the VMCS for VMX). */
enum vcpu_reg {
    VREG_RIP, VREG_RSP, VREG_RFLAGS, VREG_CR0, VREG_CR2, VREG_CR3, VREG_CR4, VREG_EFER,
    VREG_CS_BASE, VREG_CS_AR, VREG_SS_AR, VREG_DS_BASE, VREG_ES_BASE, VREG_SS_BASE,
    VREG_FS_BASE, VREG_GS_BASE,
    VREG_PDPTE0, VREG_PDPTE1, VREG_PDPTE2, VREG_PDPTE3,     /* PAE paging's PDPTE registers */
    VREG_COUNT
};

enum guest_mode {
    GUEST_REAL,         /* CR0.PE = 0 (needs unrestricted guest) */
    GUEST_PROTECTED32,  /* CR0.PE = 1, paging off, flat 32-bit segments */
    GUEST_LONG64,       /* IA-32e mode, 64-bit code, paging on */
};

/* The register state a vCPU starts with (built by the loaders). */
struct vcpu_boot_state {
    enum guest_mode mode;
    uint64_t rip, rsp, rflags;
    uint64_t cr0, cr3, cr4, efer;   /* 0 = the mode's default */
    uint64_t gpr[GPR_COUNT];
};

enum mem_kind { MEM_RAM, MEM_MMIO };

struct mem_region {
    uint64_t gpa, size;
    enum mem_kind kind;
    const char *name;
};

/* What a VM exit was, decoded by the backend; see kernel/vm/exit.c. */
enum vm_exit_kind {
    VMEXIT_NONE,
    VMEXIT_CPUID,
    VMEXIT_HLT,
    VMEXIT_IO,
    VMEXIT_RDMSR,
    VMEXIT_WRMSR,
    VMEXIT_HYPERCALL,
    VMEXIT_CR_ACCESS,
    VMEXIT_XSETBV,
    VMEXIT_CACHE_FLUSH,         /* INVD, WBINVD */
    VMEXIT_EXTERNAL_INTERRUPT,
    VMEXIT_TRIPLE_FAULT,
    VMEXIT_INIT,
    VMEXIT_SIPI,
    VMEXIT_EXCEPTION,           /* intercepted by the exception bitmap */
    VMEXIT_PREEMPTION_TIMER,
    VMEXIT_NESTED_PAGE_FAULT,   /* EPT violation */
    VMEXIT_NESTED_PAGE_MISCONFIG,
    VMEXIT_VIRT_INSTRUCTION,    /* a VMX/SVM instruction executed by the guest */
    VMEXIT_UNDEFINED_INSTRUCTION, /* an instruction we intercept to refuse (MONITOR, MWAIT) */
    VMEXIT_INTERRUPT_WINDOW,    /* the guest can take an interrupt now */
    VMEXIT_ENTRY_FAILED,
    VMEXIT_UNHANDLED,
    VMEXIT_KIND_COUNT
};

enum cr_access_type { CR_MOV_TO, CR_MOV_FROM, CR_CLTS, CR_LMSW };

struct vm_exit {
    enum vm_exit_kind kind;
    uint32_t raw_reason;            /* the vendor's number, for reports */
    const char *failure;            /* VMEXIT_ENTRY_FAILED: which check, in SDM words */
    uint64_t rip;
    uint32_t insn_len;
    bool skip;                      /* set by a handler: resume after the instruction
                                       (the backend advances RIP on the next entry) */
    union {
        struct { uint16_t port; uint8_t size; bool in, string, rep; } io;
        struct { uint32_t msr; } msr;
        struct { uint8_t cr, gpr; enum cr_access_type type; uint16_t lmsw_source; } cr;
        struct { uint64_t gpa, gla; bool gla_valid; unsigned access, allowed; uint64_t qual; } npf;
        struct { uint8_t vector; bool has_error; uint32_t error_code; uint64_t qual; } exc;
        struct { uint8_t vector; } irq;
        struct { uint8_t vector; } sipi;
        struct { const char *instruction; } virt;
    };
};

enum vm_state { VM_CREATED, VM_RUNNING, VM_STOPPED };

enum vm_stop_reason {
    STOP_NONE,
    STOP_EXITED,            /* the guest asked to end (hypercall or debug-exit port) */
    STOP_HALTED,            /* HLT with nothing that could ever wake it */
    STOP_MISBEHAVED,        /* the guest did something we refuse: report says what */
    STOP_ENTRY_FAILED,      /* VM entry failed: report says which check */
    STOP_TRIPLE_FAULT,
    STOP_TIMEOUT,
    STOP_HOST_ERROR,        /* the hypervisor could not go on (out of memory, ...) */
};

struct vcpu;
struct vm;

struct vm_stats {
    uint64_t exits[VMEXIT_KIND_COUNT];
    uint64_t ram_pages;             /* guest RAM pages actually backed */
    uint64_t emulated;              /* MMIO instructions emulated */
    uint64_t string_io;             /* INS/OUTS instructions emulated */
};

/* Devices a VM can have (module command line devices=...). */
#define VM_DEV_UART         BIT(0)  /* COM1 16550A, IRQ 4 */
#define VM_DEV_COM2         BIT(1)  /* COM2 16550A, IRQ 3 */
#define VM_DEV_PIC          BIT(2)  /* 8259A pair */
#define VM_DEV_TESTDEV      BIT(3)  /* the test device */
#define VM_DEV_DEFAULT      (VM_DEV_UART | VM_DEV_PIC)

/* CPUID answers computed once per VM (kernel/vm/cpuid.c), so the CPUID exit
 * does a table lookup instead of running the host's CPUID and filtering. */
#define CPUID_TABLE_LEAVES  0x20
struct cpuid_table {
    uint32_t max_basic, max_ext;
    uint32_t subleaf_leaves;        /* bit n: basic leaf n depends on ECX: not cached */
    uint32_t basic[CPUID_TABLE_LEAVES][4];
    uint32_t ext[CPUID_TABLE_LEAVES][4];
};

/* Recently used guest RAM pages and their host addresses.  Safe to keep for
 * the VM's whole life: a backed RAM page is never moved or unmapped. */
#define RAM_CACHE_SIZE      8
struct ram_cache_entry {
    uint64_t gpa_page;              /* ~0 = empty */
    void *host;
};

struct vm {
    unsigned id;
    char name[VM_NAME_MAX];
    char args[VM_ARGS_MAX];         /* passed to the guest */
    uint64_t ram_size;
    struct mem_region regions[VM_MAX_REGIONS];
    unsigned nregions;
    int host_cpu;                   /* core its vCPU runs on */
    uint64_t timeout_ms;            /* 0 = none */
    struct vcpu *vcpu;
    void *backend;                  /* vendor per-VM data (EPT for VMX) */

    volatile enum vm_state state;
    enum vm_stop_reason stop_reason;
    uint64_t exit_status;
    char stop_detail[320];

    char console[VM_CONSOLE_LINE];
    size_t console_len;
    struct vm_bus bus;
    struct vm_devices *devs;        /* kernel/vm/vdev.c */
    unsigned device_mask;           /* VM_DEV_* from devices= */
    volatile bool irq_line;         /* the interrupt controller's INTR output */
    struct vm_stats stats;
    struct cpuid_table cpuid;
    struct ram_cache_entry ram_cache[RAM_CACHE_SIZE];
    void *decode_cache;             /* kernel/vm/mmio.c, allocated on the first MMIO exit */
};

struct vcpu {
    /* gpr[] and cr2 are read and written by the entry/exit assembly
     * (kernel/vmx/vmx_entry.asm): keep them first and in this order. */
    uint64_t gpr[GPR_COUNT];        /* RSP's slot is unused: RSP lives in the backend */
    uint64_t cr2;                   /* not part of the VMCS guest state (SDM 25.4) */
    struct vm *vm;
    void *backend;                  /* vendor per-vCPU data (the VMCS for VMX) */
    volatile bool stop_requested;
    uint64_t deadline_tsc;          /* 0 = none */
    void *fpu_state;                /* XSAVE area while the vCPU is not loaded */
};

#endif
