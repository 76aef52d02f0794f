/*
 * The port bus.  For now every VM has the same two devices: the debug
 * console at 0xE9 and QEMU's isa-debug-exit at 0xF4 (so kernels tested under
 * QEMU report their result unchanged).  Unowned ports behave like an empty
 * ISA bus: reads return all ones, writes vanish (counted by the caller).
 */
#include <hv/devices.h>
#include <hv/hypercall.h>
#include <hv/vm_internal.h>

#define DEBUG_EXIT_PORT     0xF4

static bool debugcon_io(struct vm *vm, uint8_t size, bool write, uint64_t *value)
{
    if (!write) {
        *value = HV_DEBUG_CONSOLE_PORT;     /* Bochs and QEMU read back 0xE9: "present" */
        return true;
    }
    for (uint8_t i = 0; i < size; i++)
        vm_console_putc(vm, (char)(*value >> (i * 8)));
    return true;
}

/* QEMU isa-debug-exit: writing V ends the VM with status (V << 1) | 1. */
static bool debug_exit_io(struct vm *vm, bool write, uint64_t *value)
{
    if (!write)
        return true;
    uint64_t status = ((*value & 0xFF) << 1) | 1;
    vm_stop(vm, STOP_EXITED, status, "exited through the debug-exit port %#x with status %llu",
            DEBUG_EXIT_PORT, (unsigned long long)status);
    return true;
}

bool port_io(struct vm *vm, uint16_t port, uint8_t size, bool write, uint64_t *value)
{
    switch (port) {
    case HV_DEBUG_CONSOLE_PORT:
        return debugcon_io(vm, size, write, value);
    case DEBUG_EXIT_PORT:
        return debug_exit_io(vm, write, value);
    default:
        return false;
    }
}
