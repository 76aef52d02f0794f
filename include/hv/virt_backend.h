/*
 * The vendor backend: what generic VM code may ask of VMX (and later SVM).
 * Selected once at boot from what the CPU offers (kernel/vm/vm.c).
 */
#ifndef HV_VIRT_BACKEND_H
#define HV_VIRT_BACKEND_H

#include <hv/vm.h>

#define GMEM_READ   1
#define GMEM_WRITE  2
#define GMEM_EXEC   4
#define GMEM_RWX    7

typedef void (*guest_page_fn)(void *ctx, uint64_t gpa, phys_addr_t hpa, uint64_t size);

struct virt_backend {
    const char *name;

    /* This core: enter / leave virtualization operation (VMXON / VMXOFF). */
    int (*cpu_enable)(void);
    void (*cpu_disable)(void);

    /* Second-level address translation of a VM (EPT). */
    int (*vm_init)(struct vm *vm);
    void (*vm_destroy)(struct vm *vm);
    int (*map)(struct vm *vm, uint64_t gpa, phys_addr_t hpa, uint64_t size, unsigned perms,
               bool uncached);
    bool (*lookup)(struct vm *vm, uint64_t gpa, phys_addr_t *hpa);
    void (*for_each_mapping)(struct vm *vm, guest_page_fn fn, void *ctx);

    /* vCPU lifecycle on the core that runs it. */
    int (*vcpu_init)(struct vcpu *vcpu, const struct vcpu_boot_state *boot);
    void (*vcpu_destroy)(struct vcpu *vcpu);
    /* Runs the guest until the next exit and decodes it into *exit.  When
     * the previous exit's handler set exit->skip, the guest first moves past
     * the instruction that exited.  Returns 0, or -1 when VM entry failed
     * (exit->kind = VMEXIT_ENTRY_FAILED, the diagnosis already printed). */
    int (*vcpu_run)(struct vcpu *vcpu, struct vm_exit *exit);

    /* Used by exit handlers. */
    void (*inject_exception)(struct vcpu *vcpu, uint8_t vector, bool has_error,
                             uint32_t error_code);
    /* External interrupts: can the guest take one now (RFLAGS.IF, no STI/MOV SS
     * shadow, no event already queued)?  If not, ask for an exit as soon as
     * it can (interrupt-window exiting); inject delivers one at next entry. */
    bool (*interrupt_window_open)(struct vcpu *vcpu);
    void (*request_interrupt_window)(struct vcpu *vcpu, bool on);
    void (*inject_interrupt)(struct vcpu *vcpu, uint8_t vector);
    uint64_t (*get_reg)(struct vcpu *vcpu, enum vcpu_reg reg);
    void (*set_reg)(struct vcpu *vcpu, enum vcpu_reg reg, uint64_t value);
    /* Emulates MOV to CR0/CR4 (guest/host-owned bits, mode switches). Returns
     * false when the value is invalid (the caller injects #GP). */
    bool (*write_cr)(struct vcpu *vcpu, unsigned cr, uint64_t value);
    uint64_t (*read_cr)(struct vcpu *vcpu, unsigned cr);    /* as the guest sees it */
    void (*dump_state)(struct vcpu *vcpu);
    /* The vendor's name for an exit (SDM wording for VMX), for reports only:
     * kept off the exit path. */
    const char *(*exit_name)(const struct vm_exit *exit);
};

extern const struct virt_backend vmx_backend;

#endif
