/* Reaching guest memory from the host (kernel/vm/guestmem.c). */
#ifndef HV_GUESTMEM_H
#define HV_GUESTMEM_H

#include <hv/vm.h>
#include <hv/gwalk.h>

/* Guest-physical access: RAM only (backing it on first touch), never MMIO.
 * Returns 0, or -1 when [gpa, gpa + len) is not all guest RAM. */
int vm_read_phys(struct vm *vm, uint64_t gpa, void *buf, size_t len);
int vm_write_phys(struct vm *vm, uint64_t gpa, const void *buf, size_t len);

/* The host address of the page holding `gpa`, backing it if needed; NULL when
 * `gpa` is not RAM or memory ran out. */
void *vm_ram_page(struct vm *vm, uint64_t gpa);

void vm_ram_cache_init(struct vm *vm);

/* Is `gpa` inside one of the VM's RAM regions? */
const struct mem_region *vm_find_region(const struct vm *vm, uint64_t gpa);

/* Guest-linear access through the vCPU's current paging mode.  On a fault
 * returns -1 and fills *fault (what to inject); copies nothing beyond it. */
int vcpu_read_linear(struct vcpu *vcpu, uint64_t gla, void *buf, size_t len,
                     struct gwalk_fault *fault);

#endif
