/* Shared by the files of kernel/vm/ only. */
#ifndef HV_VM_INTERNAL_H
#define HV_VM_INTERNAL_H

#include <hv/vm.h>
#include <hv/virt_backend.h>
#include <hv/gwalk.h>
#include <hv/mb2.h>
#include <hv/x86.h>

#define VM_DEFAULT_MEM          (16 * MiB)
#define VM_MIN_MEM              (2 * MiB)
#define VM_MAX_MEM              (3 * GiB)   /* below the 32-bit MMIO hole */
#define VM_MAX_GUEST_MODULES    8

enum vm_entry_kind { ENTRY_AUTO, ENTRY_MULTIBOOT, ENTRY_ELF32, ENTRY_ELF64, ENTRY_REAL };

/* A file GRUB loaded that a guest receives as one of its multiboot modules. */
struct guest_module {
    const void *data;               /* the file's bytes (inside the GRUB module) */
    size_t size;
    const char *cmdline;
};

/* What a module's command line asks for (kernel/vm/vmconfig.c). */
struct vm_config {
    char name[VM_NAME_MAX];
    uint64_t mem;
    uint64_t cpu;                   /* host core; ~0 = pick one */
    int entry;                      /* enum vm_entry_kind */
    uint64_t load;                  /* real mode / flat binaries */
    uint64_t timeout_ms;
    uint64_t rflags;
    bool rflags_set;
    char args[VM_ARGS_MAX];
    char devices[64];               /* devices=uart,pic,testdev,com2 */
    unsigned device_mask;
    char owner[VM_NAME_MAX];        /* for=NAME: a file for that VM, not a VM */
    const char *module_string;      /* with for=: the rest of the line, for the guest */
};

/* The image of one VM: its GRUB module and the files handed to it. */
struct vm_image {
    const void *data;
    size_t size;
    struct guest_module modules[VM_MAX_GUEST_MODULES];
    unsigned module_count;
};

extern const struct virt_backend *virt;

int vm_config_parse(const char *cmdline, struct vm_config *cfg, char *err, size_t errlen);
int vm_load_image(struct vm *vm, const struct vm_config *cfg, const struct vm_image *img,
                  struct vcpu_boot_state *boot, char *err, size_t errlen);
/* The vCPU's paging state for the page walker; `pdptes` (4 entries) holds the
 * PAE PDPTE registers when the guest uses PAE paging. */
void vcpu_paging_state(struct vcpu *vcpu, struct gwalk_guest *g, uint64_t *pdptes);

/* kernel/vm/vm.c: deadlines, stop requests, console input (timer exits). */
bool vm_periodic_check(struct vcpu *vcpu);

/* kernel/vm/exit.c: returns true to keep running the vCPU. */
bool vm_handle_exit(struct vcpu *vcpu, struct vm_exit *exit);
void vm_stop(struct vm *vm, enum vm_stop_reason why, uint64_t status, const char *fmt, ...)
    __printf(4, 5);
void vm_console_putc(struct vm *vm, char c);
void vm_console_flush(struct vm *vm);
void vm_cpuid_init(struct vm *vm);

/* kernel/vm/vdev.c: the VM's devices and their interrupts. */
int vm_parse_devices(const char *list, unsigned *mask, char *err, size_t errlen);
int vm_create_devices(struct vm *vm, char *err, size_t errlen);
void vm_destroy_devices(struct vm *vm);
/* Checked before every VM entry: inline, one load. */
static inline bool vm_interrupt_pending(const struct vm *vm)
{
    return vm->irq_line;
}
void vm_deliver_interrupts(struct vcpu *vcpu);
bool vm_has_uart(const struct vm *vm);
void vm_console_input(struct vm *vm);
void vm_uart_log_tail(const struct vm *vm);

/* kernel/vm/mmio.c, kernel/vm/string_io.c */
bool vm_emulate_mmio(struct vcpu *vcpu, struct vm_exit *e);
void vm_decode_cache_free(struct vm *vm);
bool vm_string_io(struct vcpu *vcpu, struct vm_exit *e);

/* kernel/vm/cpuid.c */
#define CPUID_LEAF1_ECX_OSXSAVE BIT(27)
void cpuid_uncached(struct vcpu *vcpu, uint32_t leaf, uint32_t subleaf);

/* CPUID for the guest: EAX/ECX in, EAX/EBX/ECX/EDX out.  Inline: this is the
 * whole of the CPUID exit's work, a lookup in the VM's table. */
static inline void vm_cpuid(struct vcpu *vcpu)
{
    const struct cpuid_table *t = &vcpu->vm->cpuid;
    uint32_t leaf = (uint32_t)vcpu->gpr[GPR_RAX];
    const uint32_t *hit;

    if (leaf < CPUID_TABLE_LEAVES && !(t->subleaf_leaves & BIT(leaf)))
        hit = t->basic[leaf];
    else if (leaf - 0x80000000 < CPUID_TABLE_LEAVES)
        hit = t->ext[leaf - 0x80000000];
    else
        return cpuid_uncached(vcpu, leaf, (uint32_t)vcpu->gpr[GPR_RCX]);
    vcpu->gpr[GPR_RAX] = hit[0];
    vcpu->gpr[GPR_RBX] = hit[1];
    vcpu->gpr[GPR_RCX] = hit[2];
    vcpu->gpr[GPR_RDX] = hit[3];
    /* OSXSAVE mirrors the guest's CR4.OSXSAVE, not the host's. */
    if (unlikely(leaf == 1) && (virt->read_cr(vcpu, 4) & CR4_OSXSAVE))
        vcpu->gpr[GPR_RCX] |= CPUID_LEAF1_ECX_OSXSAVE;
}

#endif
