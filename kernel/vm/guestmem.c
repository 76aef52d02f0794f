/*
 * Guest memory as the host sees it.  Guest RAM is backed lazily: a page gets
 * a zeroed host page the first time the guest (or a loader) touches it, so a
 * 1 GiB guest that uses 2 MiB costs about 2 MiB plus its EPT tables.
 */
#include <hv/guestmem.h>
#include <hv/virt_backend.h>
#include <hv/paging.h>
#include <hv/kernel.h>
#include <hv/kstring.h>
#include <hv/log.h>
#include <hv/vm_internal.h>

const struct mem_region *vm_find_region(const struct vm *vm, uint64_t gpa)
{
    for (unsigned i = 0; i < vm->nregions; i++) {
        const struct mem_region *r = &vm->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

void vm_ram_cache_init(struct vm *vm)
{
    for (unsigned i = 0; i < RAM_CACHE_SIZE; i++)
        vm->ram_cache[i].gpa_page = ~0ULL;
}

static void *cache_put(struct vm *vm, uint64_t page, void *host)
{
    struct ram_cache_entry *c = &vm->ram_cache[(page / PAGE_SIZE) % RAM_CACHE_SIZE];
    c->gpa_page = page;
    c->host = host;
    return host;
}

void *vm_ram_page(struct vm *vm, uint64_t gpa)
{
    uint64_t page = ALIGN_DOWN(gpa, PAGE_SIZE);
    const struct ram_cache_entry *c = &vm->ram_cache[(page / PAGE_SIZE) % RAM_CACHE_SIZE];
    if (c->gpa_page == page)
        return c->host;

    const struct mem_region *r = vm_find_region(vm, gpa);
    phys_addr_t hpa;

    if (!r || r->kind != MEM_RAM)
        return NULL;
    if (virt->lookup(vm, page, &hpa))
        return cache_put(vm, page, phys_to_virt(ALIGN_DOWN(hpa, PAGE_SIZE)));
    hpa = phys_alloc_pages(1);             /* zeroed: no stale host or guest data */
    if (hpa == PMM_NO_MEMORY)
        return NULL;
    if (virt->map(vm, page, hpa, PAGE_SIZE, GMEM_RWX, false)) {
        phys_free_pages(hpa, 1);
        return NULL;
    }
    vm->stats.ram_pages++;
    return cache_put(vm, page, phys_to_virt(hpa));
}

static int copy_phys(struct vm *vm, uint64_t gpa, void *buf, size_t len, bool write)
{
    uint8_t *b = buf;
    while (len) {
        size_t off = gpa & (PAGE_SIZE - 1), n = MIN(len, (size_t)(PAGE_SIZE - off));
        uint8_t *page = vm_ram_page(vm, gpa);
        if (!page)
            return -1;
        if (write)
            memcpy(page + off, b, n);
        else
            memcpy(b, page + off, n);
        gpa += n;
        b += n;
        len -= n;
    }
    return 0;
}

int vm_read_phys(struct vm *vm, uint64_t gpa, void *buf, size_t len)
{
    return copy_phys(vm, gpa, buf, len, false);
}

int vm_write_phys(struct vm *vm, uint64_t gpa, const void *buf, size_t len)
{
    return copy_phys(vm, gpa, (void *)buf, len, true);
}

static int gw_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    return vm_read_phys(ctx, gpa, buf, len);
}

static int gw_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    return vm_write_phys(ctx, gpa, buf, len);
}

/* The real guest CR0/CR4 are used, not the guest's view through the read
 * shadows: the bits paging depends on (CR0.PG/PE/WP, CR4.PAE/PSE/LA57/SMEP/
 * SMAP) are never host-owned, and one VMREAD is cheaper than the merge. */
void vcpu_paging_state(struct vcpu *vcpu, struct gwalk_guest *g, uint64_t *pdptes)
{
    *g = (struct gwalk_guest){
        .cr0 = virt->get_reg(vcpu, VREG_CR0),
        .read_phys = gw_read,
        .write_phys = gw_write,
        .ctx = vcpu->vm,
    };
    if (!(g->cr0 & CR0_PG))
        return;                 /* linear = physical: nothing else matters (SDM 4.1.1) */
    g->cr3 = virt->get_reg(vcpu, VREG_CR3);
    g->cr4 = virt->get_reg(vcpu, VREG_CR4);
    g->efer = virt->get_reg(vcpu, VREG_EFER);
    g->rflags = virt->get_reg(vcpu, VREG_RFLAGS);
    /* PAE paging translates through the PDPTE registers loaded when CR3 was
     * written, not through the PDPT in memory (SDM Vol. 3A, 4.4.1). */
    if ((g->cr4 & CR4_PAE) && !(g->efer & GWALK_EFER_LMA)) {
        for (unsigned i = 0; i < 4; i++)
            pdptes[i] = virt->get_reg(vcpu, (enum vcpu_reg)(VREG_PDPTE0 + i));
        g->pdptes = pdptes;
    }
}

int vcpu_read_linear(struct vcpu *vcpu, uint64_t gla, void *buf, size_t len,
                     struct gwalk_fault *fault)
{
    struct gwalk_guest g;
    uint64_t pdptes[4];
    vcpu_paging_state(vcpu, &g, pdptes);
    return gwalk_copy_from_guest(&g, buf, gla, len, GWALK_ACC_READ, NULL, fault) == GWALK_OK ? 0 : -1;
}
