/*
 * Virtual devices on a VM's port and MMIO buses.  Device models are plain C:
 * they never see a VMCS, only these read/write callbacks.
 */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <hv/vm.h>

/* Performs a guest port access of `size` bytes (1, 2, 4).  For reads *value
 * is preset to all ones; returns false when no device owns the port. */
bool port_io(struct vm *vm, uint16_t port, uint8_t size, bool write, uint64_t *value);

#endif
