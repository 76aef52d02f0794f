/* Logical/linear guest memory access for emulated instructions
 * (kernel/vm/guest_access.c). */
#ifndef HV_GUEST_ACCESS_H
#define HV_GUEST_ACCESS_H

#include <hv/vm.h>
#include <hv/gwalk.h>
#include <hv/x86_emulate.h>

struct guest_access {
    struct vcpu *vcpu;
    struct gwalk_guest paging;
    uint64_t pdptes[4];             /* PAE paging's PDPTE registers (paging.pdptes) */
    enum x86_cpu_mode mode;
    bool user;                      /* CPL 3 */
    enum gwalk_status status;       /* of the last failed access */
    struct gwalk_fault fault;
    uint64_t bad_gpa;               /* GWALK_PHYS_ERROR: where */
    enum gwalk_status fetch_status; /* of the instruction fetch, GWALK_OK when it completed */
    struct gwalk_fault fetch_fault;
    uint64_t device_accesses;
};

void guest_access_init(struct guest_access *ga, struct vcpu *vcpu);
uint64_t guest_linear(struct guest_access *ga, enum x86_seg seg, uint64_t offset);
/* Returns 0 or -1 (the fault is recorded in *ga). */
int guest_access(struct guest_access *ga, uint64_t linear, void *buf, unsigned len, bool write);
int guest_probe_write(struct guest_access *ga, uint64_t linear, unsigned len);
uint8_t *guest_ram_pointer(struct guest_access *ga, uint64_t linear, bool write);
size_t guest_fetch(struct guest_access *ga, uint64_t rip, uint8_t *bytes, size_t max);
void guest_access_deliver_fault(struct guest_access *ga, const char *what);

#endif
