/* Port and MMIO buses of a VM; see include/hv/devices.h. */
#include <hv/devices.h>
#include <hv/kstring.h>

static bool overlaps(const struct bus_range *r, unsigned n, uint64_t base, uint64_t len)
{
    for (unsigned i = 0; i < n; i++)
        if (base < r[i].base + r[i].len && r[i].base < base + len)
            return true;
    return false;
}

static int add(struct bus_range *table, unsigned *n, unsigned max, uint64_t base, uint64_t len,
               device_access_fn fn, void *dev, const char *name)
{
    if (*n == max || len == 0 || base + len < base || overlaps(table, *n, base, len))
        return -1;
    table[(*n)++] = (struct bus_range){ base, len, fn, dev, name, 0 };
    return 0;
}

int bus_add_pio(struct vm_bus *bus, uint16_t base, uint16_t len, device_access_fn fn, void *dev,
                const char *name)
{
    if ((uint32_t)base + len > 0x10000)
        return -1;
    return add(bus->pio, &bus->npio, BUS_MAX_PIO, base, len, fn, dev, name);
}

int bus_add_mmio(struct vm_bus *bus, uint64_t gpa, uint64_t len, device_access_fn fn, void *dev,
                 const char *name)
{
    return add(bus->mmio, &bus->nmmio, BUS_MAX_MMIO, gpa, len, fn, dev, name);
}

static struct bus_range *find(struct bus_range *r, unsigned n, uint64_t addr)
{
    for (unsigned i = 0; i < n; i++)
        if (addr >= r[i].base && addr - r[i].base < r[i].len)
            return &r[i];
    return NULL;
}

bool bus_pio(struct vm_bus *bus, uint16_t port, unsigned size, bool write, uint64_t *value)
{
    struct bus_range *r = find(bus->pio, bus->npio, port);
    uint8_t data[8];

    if (!r) {
        bus->unowned_pio++;
        if (!write)
            *value = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        return false;
    }
    r->accesses++;
    memcpy(data, value, sizeof(data));
    if (!write)
        memset(data, 0xFF, sizeof(data));
    r->access(r->dev, port - r->base, data, size, write);
    if (!write) {
        *value = 0;
        memcpy(value, data, size);
    }
    return true;
}

struct bus_range *bus_find_mmio(struct vm_bus *bus, uint64_t gpa)
{
    return find(bus->mmio, bus->nmmio, gpa);
}

bool bus_mmio(struct vm_bus *bus, uint64_t gpa, void *data, unsigned size, bool write)
{
    struct bus_range *r = find(bus->mmio, bus->nmmio, gpa);
    if (!r) {
        bus->unowned_mmio++;
        if (!write)
            memset(data, 0xFF, size);
        return false;
    }
    bus_range_access(r, gpa, data, size, write);
    return true;
}

void bus_range_access(struct bus_range *r, uint64_t gpa, void *data, unsigned size, bool write)
{
    r->accesses++;
    uint64_t off = gpa - r->base;
    unsigned n = (unsigned)(size <= r->len - off ? size : r->len - off);
    if (!write)
        memset(data, 0xFF, size);
    r->access(r->dev, off, data, n, write);
}
