/*
 * A VM's device buses (kernel/devices/bus.c): port ranges and guest-physical
 * MMIO ranges, each owned by a device model.  Device models are plain C that
 * know nothing of VMX: they see (offset, size, data) and nothing else, so they
 * compile into host unit tests unchanged.  Accesses nobody owns behave like an
 * empty bus on a PC (reads return all ones, writes vanish) and are counted.
 */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <hv/types.h>

#define BUS_MAX_PIO     16
#define BUS_MAX_MMIO    8
#define BUS_MAX_ACCESS  16      /* bytes: SSE moves reach 16 */

/* One access: `size` bytes (1, 2, 4, 8 or 16) at `offset` inside the range,
 * little endian in `data`.  Reads fill `data`; a device that does not fill
 * it leaves the bus's all-ones. */
typedef void (*device_access_fn)(void *dev, uint64_t offset, void *data, unsigned size, bool write);

struct bus_range {
    uint64_t base, len;
    device_access_fn access;
    void *dev;
    const char *name;
    uint64_t accesses;
};

struct vm_bus {
    struct bus_range pio[BUS_MAX_PIO];
    struct bus_range mmio[BUS_MAX_MMIO];
    unsigned npio, nmmio;
    uint64_t unowned_pio, unowned_mmio;     /* accesses no device owned */
};

/* Returns 0, or -1 when the range overlaps another or the table is full. */
int bus_add_pio(struct vm_bus *bus, uint16_t base, uint16_t len, device_access_fn fn, void *dev,
                const char *name);
int bus_add_mmio(struct vm_bus *bus, uint64_t gpa, uint64_t len, device_access_fn fn, void *dev,
                 const char *name);

/* Port access of `size` bytes.  Returns true when a device owned the port. */
bool bus_pio(struct vm_bus *bus, uint16_t port, unsigned size, bool write, uint64_t *value);

/* The MMIO range holding `gpa`, or NULL. */
struct bus_range *bus_find_mmio(struct vm_bus *bus, uint64_t gpa);
/* MMIO access; an access that runs past its range's end is cut there (the
 * rest reads as all ones).  Returns true when a device owned `gpa`. */
bool bus_mmio(struct vm_bus *bus, uint64_t gpa, void *data, unsigned size, bool write);
/* The same, on a range already found with bus_find_mmio(). */
void bus_range_access(struct bus_range *r, uint64_t gpa, void *data, unsigned size, bool write);

/* The test device (kernel/devices/testdev.c): see docs/devices.md. */
#define TESTDEV_MMIO_BASE       0xFEB00000ULL
#define TESTDEV_MMIO_SIZE       0x1000
#define TESTDEV_SCRATCH_SIZE    0x100
#define TESTDEV_ACCESS_COUNT    0x100
#define TESTDEV_LAST_ACCESS     0x108
#define TESTDEV_MAGIC_REG       0x110
#define TESTDEV_MAGIC           0x54534554564D5648ULL   /* "HVMVTEST" */
#define TESTDEV_PORT_FIFO       0x510
#define TESTDEV_PORT_COUNT      0x514
#define TESTDEV_FIFO_SIZE       4096

struct testdev {
    uint8_t scratch[TESTDEV_SCRATCH_SIZE];
    uint64_t access_count, last_access;
    uint8_t fifo[TESTDEV_FIFO_SIZE];
    unsigned fifo_head, fifo_count;
};

void testdev_mmio(void *dev, uint64_t offset, void *data, unsigned size, bool write);
void testdev_pio(void *dev, uint64_t offset, void *data, unsigned size, bool write);

#endif
