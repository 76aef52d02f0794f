/* Private to kernel/vmx/: the VMX backend's own structures. */
#ifndef HV_VMX_H
#define HV_VMX_H

#include <hv/vmcs.h>
#include <hv/vmx_caps.h>
#include <hv/virt.h>
#include <hv/vm.h>
#include <hv/virt_backend.h>

/* vmx_cpu.c: VMXON / VMXOFF on the calling core. */
int vmx_cpu_enable(void);
void vmx_cpu_disable(void);

/* Per-vCPU VMX state. */
struct vmx_vcpu {
    phys_addr_t vmcs;               /* this vCPU's VMCS region */
    bool launched;                  /* VMLAUNCH done: use VMRESUME */
    phys_addr_t io_bitmaps;         /* A (ports 0-7FFF) and B: two pages */
    phys_addr_t msr_bitmap;
    uint32_t pin, proc, proc2, exit, entry;  /* the control values in force */
    uint64_t cr0_mask, cr4_mask;    /* bits the host owns (25.6.6) */
    uint16_t vpid;
    uint32_t preemption_reload;     /* preemption timer value after it fires */
    const struct vmx_caps *caps;
};

/* Per-VM VMX state: the EPT. */
struct vmx_vm {
    struct ept *ept;
    uint64_t eptp;
};

int vmx_enter(struct vcpu *vcpu, int launched);     /* vmx_entry.asm */
void vmx_exit_stub(void);

/* vmx_setup.c */
int vmx_setup_vmcs(struct vcpu *vcpu, struct vmx_vcpu *vv, const struct vcpu_boot_state *boot);

/* vmx_diag.c: what broke a VM entry, in SDM terms. */
void vmx_dump_guest_state(struct vcpu *vcpu);
const char *vmx_diagnose_guest_state(const struct vmx_vcpu *vv, char *buf, size_t n);
const char *vmx_diagnose_controls(const struct vmx_vcpu *vv, char *buf, size_t n);

/* vmx_vcpu.c: the vCPU half of struct virt_backend. */
int vmx_vcpu_init(struct vcpu *vcpu, const struct vcpu_boot_state *boot);
void vmx_vcpu_destroy(struct vcpu *vcpu);
int vmx_vcpu_run(struct vcpu *vcpu, struct vm_exit *exit);
void vmx_inject_exception(struct vcpu *vcpu, uint8_t vector, bool has_error, uint32_t error_code);
uint64_t vmx_get_reg(struct vcpu *vcpu, enum vcpu_reg reg);
void vmx_set_reg(struct vcpu *vcpu, enum vcpu_reg reg, uint64_t value);
uint64_t vmx_read_cr(struct vcpu *vcpu, unsigned cr);
bool vmx_write_cr(struct vcpu *vcpu, unsigned cr, uint64_t value);
const char *vmx_exit_name(const struct vm_exit *exit);
bool vmx_interrupt_window_open(struct vcpu *vcpu);
void vmx_request_interrupt_window(struct vcpu *vcpu, bool on);
void vmx_inject_interrupt(struct vcpu *vcpu, uint8_t vector);

/* vmx_vm.c: 29.4.3.1 / 4.4.1: with EPT, PAE paging takes its PDPTEs from the
 * VMCS on VM entry, so switching the guest into PAE paging must load them. */
int vmx_load_pdptes(struct vcpu *vcpu, uint64_t cr3);

#endif
