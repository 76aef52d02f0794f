/*
 * The per-VM half of the VMX backend: the EPT that maps guest-physical memory
 * (SDM Vol. 3C, 29.3), INVEPT when a translation changes (29.4.3), the PAE
 * PDPTEs (29.4.3.1), and the struct virt_backend table.
 */
#include <hv/vmx.h>
#include <hv/ept.h>
#include <hv/guestmem.h>
#include <hv/percpu.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/log.h>
#include <hv/x86.h>

#define PDPTE_COUNT         4
#define PAE_PDPT_ALIGN_MASK 0x1FULL     /* CR3[4:0] are ignored with PAE paging */

static phys_addr_t ept_alloc_table(void *ctx) { (void)ctx; return phys_alloc_pages(1); }
static void ept_free_table(void *ctx, phys_addr_t p) { (void)ctx; phys_free_pages(p, 1); }
static void *ept_to_virt(void *ctx, phys_addr_t p) { (void)ctx; return phys_to_virt(p); }

static const struct ept_ops kernel_ept_ops = {
    .alloc_table = ept_alloc_table, .free_table = ept_free_table, .to_virt = ept_to_virt,
};

static int vmx_vm_init(struct vm *vm)
{
    const struct vmx_caps *c = &this_cpu()->virt.vmx;
    struct vmx_vm *xv = kzalloc(sizeof(*xv));
    struct ept *ept = kzalloc(sizeof(*ept));
    if (!xv || !ept || ept_init(ept, &kernel_ept_ops, c->ept_2mb, c->ept_1gb) != EPT_OK) {
        kfree(xv);
        kfree(ept);
        pr_err("VM '%s': out of memory for its EPT", vm->name);
        return -1;
    }
    xv->ept = ept;
    xv->eptp = ept_eptp(ept, false);
    vm->backend = xv;
    return 0;
}

static void vmx_vm_destroy(struct vm *vm)
{
    struct vmx_vm *xv = vm->backend;
    if (!xv)
        return;
    ept_destroy(xv->ept);
    kfree(xv->ept);
    kfree(xv);
    vm->backend = NULL;
}

/* After a translation changed or went away, cached ones must go (29.4.3.1).
 * Not needed when a not-present entry becomes present: the processor does not
 * cache translations from not-present EPT entries (29.4.2). */
static void flush_ept(struct vmx_vm *xv)
{
    const struct vmx_caps *c = &this_cpu()->virt.vmx;
    if (!this_cpu()->virt_enabled)
        return;         /* not in VMX operation here: nothing can be cached yet */
    if (c->invept_single)
        invept(INVEPT_SINGLE_CONTEXT, xv->eptp);
    else
        invept(INVEPT_ALL_CONTEXT, 0);
}

static int vmx_map(struct vm *vm, uint64_t gpa, phys_addr_t hpa, uint64_t size, unsigned perms,
                   bool uncached)
{
    struct vmx_vm *xv = vm->backend;
    bool replacing = false;
    for (uint64_t off = 0; off < size && !replacing; off += PAGE_SIZE)
        replacing = ept_lookup(xv->ept, gpa + off, NULL, NULL, NULL, NULL);
    int rc = ept_map_range(xv->ept, gpa, hpa, size, perms & EPT_RWX,
                           uncached ? EPT_MT_UC : EPT_MT_WB);
    if (rc == EPT_OK && replacing)
        flush_ept(xv);
    return rc == EPT_OK ? 0 : -1;
}

static bool vmx_lookup(struct vm *vm, uint64_t gpa, phys_addr_t *hpa)
{
    struct vmx_vm *xv = vm->backend;
    return ept_lookup(xv->ept, gpa, hpa, NULL, NULL, NULL);
}

struct leaf_ctx { guest_page_fn fn; void *ctx; };

static void leaf_adapter(void *ctx, uint64_t gpa, phys_addr_t hpa, uint64_t size, unsigned perms)
{
    struct leaf_ctx *lc = ctx;
    (void)perms;
    lc->fn(lc->ctx, gpa, hpa, size);
}

static void vmx_for_each_mapping(struct vm *vm, guest_page_fn fn, void *ctx)
{
    struct vmx_vm *xv = vm->backend;
    struct leaf_ctx lc = { fn, ctx };
    ept_for_each_leaf(xv->ept, leaf_adapter, &lc);
}

int vmx_load_pdptes(struct vcpu *vcpu, uint64_t cr3)
{
    uint64_t pdpte[PDPTE_COUNT];
    if (vm_read_phys(vcpu->vm, cr3 & ~PAE_PDPT_ALIGN_MASK & 0xFFFFFFFFULL, pdpte, sizeof(pdpte)))
        return -1;
    for (unsigned i = 0; i < PDPTE_COUNT; i++)
        vmcs_write(VMCS_GUEST_PDPTE0 + i * 2, pdpte[i]);
    return 0;
}

const struct virt_backend vmx_backend = {
    .name = "Intel VMX",
    .cpu_enable = vmx_cpu_enable,
    .cpu_disable = vmx_cpu_disable,
    .vm_init = vmx_vm_init,
    .vm_destroy = vmx_vm_destroy,
    .map = vmx_map,
    .lookup = vmx_lookup,
    .for_each_mapping = vmx_for_each_mapping,
    .vcpu_init = vmx_vcpu_init,
    .vcpu_destroy = vmx_vcpu_destroy,
    .vcpu_run = vmx_vcpu_run,
    .inject_exception = vmx_inject_exception,
    .interrupt_window_open = vmx_interrupt_window_open,
    .request_interrupt_window = vmx_request_interrupt_window,
    .inject_interrupt = vmx_inject_interrupt,
    .get_reg = vmx_get_reg,
    .set_reg = vmx_set_reg,
    .write_cr = vmx_write_cr,
    .read_cr = vmx_read_cr,
    .dump_state = vmx_dump_guest_state,
    .exit_name = vmx_exit_name,
};
