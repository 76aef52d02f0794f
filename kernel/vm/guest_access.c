/*
 * Guest memory as an instruction sees it: logical address (segment +
 * offset) -> linear (segment base) -> guest-physical (the guest's own page
 * tables, kernel/vm/gwalk.c) -> RAM or a device on the VM's MMIO bus.  Used
 * by MMIO emulation and string I/O.  Faults are recorded, not delivered: the
 * caller injects them once the instruction is abandoned.
 */
#include <hv/vm_internal.h>
#include <hv/guest_access.h>
#include <hv/guestmem.h>
#include <hv/kstring.h>

#define CS_AR_DB            BIT(14)
#define CS_AR_L             BIT(13)
#define SS_AR_DPL(ar)       (((ar) >> 5) & 3)

static const enum vcpu_reg seg_base_reg[X86_SEG_NONE] = {
    VREG_ES_BASE, VREG_CS_BASE, VREG_SS_BASE, VREG_DS_BASE, VREG_FS_BASE, VREG_GS_BASE,
};

void guest_access_init(struct guest_access *ga, struct vcpu *vcpu)
{
    ga->vcpu = vcpu;
    ga->status = GWALK_OK;
    ga->fetch_status = GWALK_OK;
    ga->device_accesses = 0;
    vcpu_paging_state(vcpu, &ga->paging, ga->pdptes);
    uint64_t cs_ar = virt->get_reg(vcpu, VREG_CS_AR);
    if (cs_ar & CS_AR_L)
        ga->mode = X86_MODE_LONG64;
    else if (!(ga->paging.cr0 & CR0_PE))
        ga->mode = X86_MODE_REAL;
    else
        ga->mode = (cs_ar & CS_AR_DB) ? X86_MODE_PROT32 : X86_MODE_PROT16;
    /* CPL matters only to paging's user/supervisor checks. */
    ga->user = (ga->paging.cr0 & CR0_PG) && SS_AR_DPL(virt->get_reg(vcpu, VREG_SS_AR)) == 3;
}

/* SDM Vol. 3A, 3.4.4: in 64-bit mode only FS and GS have bases. */
uint64_t guest_linear(struct guest_access *ga, enum x86_seg seg, uint64_t offset)
{
    uint64_t base = 0;
    if (seg < X86_SEG_NONE && (ga->mode != X86_MODE_LONG64 || seg == X86_SEG_FS || seg == X86_SEG_GS))
        base = virt->get_reg(ga->vcpu, seg_base_reg[seg]);
    uint64_t linear = base + offset;
    return ga->mode == X86_MODE_LONG64 ? linear : (uint32_t)linear;
}

static int record_fault(struct guest_access *ga, enum gwalk_status st, const struct gwalk_fault *f)
{
    ga->status = st;
    ga->fault = *f;
    return -1;
}

/* One piece of an access that stays inside one guest page. */
static int access_page(struct guest_access *ga, uint64_t linear, void *buf, unsigned n, bool write)
{
    struct gwalk_result res = { .gpa = (uint32_t)linear };

    if (ga->paging.cr0 & CR0_PG) {
        struct gwalk_fault fault;
        unsigned acc = (write ? GWALK_ACC_WRITE : GWALK_ACC_READ) | (ga->user ? GWALK_ACC_USER : 0);
        enum gwalk_status st = gwalk_translate(&ga->paging, linear, acc, &res, &fault);
        if (st != GWALK_OK && st != GWALK_PHYS_ERROR)
            return record_fault(ga, st, &fault);
        if (st == GWALK_PHYS_ERROR) {
            ga->status = GWALK_PHYS_ERROR;
            ga->bad_gpa = fault.gpa;        /* a guest page table outside its RAM */
            return -1;
        }
    }
    struct vm *vm = ga->vcpu->vm;
    struct bus_range *dev = bus_find_mmio(&vm->bus, res.gpa);
    if (dev) {                                     /* the common case when emulating */
        bus_range_access(dev, res.gpa, buf, n, write);
        ga->device_accesses++;
        return 0;
    }
    const struct mem_region *r = vm_find_region(vm, res.gpa);
    if (r && r->kind == MEM_RAM &&
        !(write ? vm_write_phys(vm, res.gpa, buf, n) : vm_read_phys(vm, res.gpa, buf, n)))
        return 0;
    ga->status = GWALK_PHYS_ERROR;
    ga->bad_gpa = res.gpa;                  /* neither RAM nor a device */
    return -1;
}

int guest_access(struct guest_access *ga, uint64_t linear, void *buf, unsigned len, bool write)
{
    uint8_t *b = buf;
    while (len) {
        unsigned n = (unsigned)MIN((uint64_t)len, PAGE_SIZE - (linear & (PAGE_SIZE - 1)));
        if (access_page(ga, linear, b, n, write))
            return -1;
        linear += n;
        b += n;
        len -= n;
    }
    return 0;
}

/* Would a write of `len` bytes at `linear` succeed?  Translation only: no
 * memory or device is touched.  Returns 0 or -1 (fault recorded). */
int guest_probe_write(struct guest_access *ga, uint64_t linear, unsigned len)
{
    unsigned acc = GWALK_ACC_WRITE | (ga->user ? GWALK_ACC_USER : 0);
    uint64_t last = linear + len - 1;
    for (uint64_t page = linear; ; page = (page & ~(PAGE_SIZE - 1)) + PAGE_SIZE) {
        struct gwalk_result res;
        struct gwalk_fault fault;
        enum gwalk_status st = gwalk_translate(&ga->paging, page, acc, &res, &fault);
        if (st == GWALK_PAGE_FAULT || st == GWALK_GP_FAULT)
            return record_fault(ga, st, &fault);
        if ((page & ~(PAGE_SIZE - 1)) == (last & ~(PAGE_SIZE - 1)))
            return 0;
    }
}

/* Fetches up to `max` instruction bytes at CS:RIP; the bytes before a fault
 * are kept (the decoder refuses an instruction they do not complete). */
size_t guest_fetch(struct guest_access *ga, uint64_t rip, uint8_t *bytes, size_t max)
{
    size_t copied = 0;
    struct gwalk_fault fault;
    uint64_t linear = guest_linear(ga, X86_SEG_CS, rip);
    if (!(ga->paging.cr0 & CR0_PG)) {
        /* No paging: fetch straight from RAM, page by page, as far as it goes. */
        while (copied < max) {
            uint64_t at = (uint32_t)(linear + copied);
            size_t n = MIN(max - copied, (size_t)(PAGE_SIZE - (at & (PAGE_SIZE - 1))));
            if (vm_read_phys(ga->vcpu->vm, at, bytes + copied, n))
                break;
            copied += n;
        }
        return copied;
    }
    unsigned acc = GWALK_ACC_FETCH | (ga->user ? GWALK_ACC_USER : 0);
    enum gwalk_status st = gwalk_copy_from_guest(&ga->paging, bytes, linear, max, acc, &copied,
                                                 &fault);
    if (st != GWALK_OK) {
        ga->fetch_status = st;
        ga->fetch_fault = fault;
    }
    return copied;
}

/* Delivers what the last failed access recorded: #PF (with CR2) or #GP as
 * the CPU would have; an access outside RAM and devices stops the VM. */
void guest_access_deliver_fault(struct guest_access *ga, const char *what)
{
    struct vcpu *vcpu = ga->vcpu;
    if (ga->status == GWALK_PAGE_FAULT) {
        virt->set_reg(vcpu, VREG_CR2, ga->fault.linear);
        virt->inject_exception(vcpu, GWALK_VECTOR_PF, true, ga->fault.error_code);
    } else if (ga->status == GWALK_GP_FAULT) {
        virt->inject_exception(vcpu, GWALK_VECTOR_GP, true, 0);
    } else {
        vm_stop(vcpu->vm, STOP_MISBEHAVED, 0, "%s reached guest-physical %#llx, outside its RAM "
                "and any device", what, (unsigned long long)ga->bad_gpa);
    }
}

/* The host address of guest RAM at `linear`, checked for `write` access like
 * any access, for loops that stay inside one page.  NULL with ga->status set
 * on a fault; NULL with GWALK_OK when the page is a device or not RAM (the
 * caller then goes through guest_access() byte by byte). */
uint8_t *guest_ram_pointer(struct guest_access *ga, uint64_t linear, bool write)
{
    struct gwalk_result res = { .gpa = (uint32_t)linear };
    if (ga->paging.cr0 & CR0_PG) {
        struct gwalk_fault fault;
        unsigned acc = (write ? GWALK_ACC_WRITE : GWALK_ACC_READ) | (ga->user ? GWALK_ACC_USER : 0);
        enum gwalk_status st = gwalk_translate(&ga->paging, linear, acc, &res, &fault);
        if (st == GWALK_PAGE_FAULT || st == GWALK_GP_FAULT) {
            record_fault(ga, st, &fault);
            return NULL;
        }
        if (st != GWALK_OK)
            return NULL;
    }
    struct vm *vm = ga->vcpu->vm;
    const struct mem_region *r = vm_find_region(vm, res.gpa);
    if (!r || r->kind != MEM_RAM)
        return NULL;
    uint8_t *page = vm_ram_page(vm, res.gpa);
    return page ? page + (res.gpa & (PAGE_SIZE - 1)) : NULL;
}
