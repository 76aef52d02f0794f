/*
 * kernel/devices/bus.c and kernel/devices/testdev.c: a VM's port and MMIO
 * buses, and the test device on them.
 *
 * The bus tests register recording fake devices and check what reaches them
 * (range, offset, size, bytes) and what the caller gets back; reads into
 * MMIO buffers go through exact-size heap copies, so AddressSanitizer
 * catches the bus or a device touching bytes past the access.  The test
 * device tests register it as kernel/vm/vdev.c does (MMIO 0xFEB00000, 4 KiB;
 * ports 0x510-0x517) and drive it only through bus_mmio()/bus_pio(), as a
 * guest's accesses reach it.  Expected behaviour is include/hv/devices.h's
 * and docs/devices.md's.
 */
#include "helpers.h"
#include <hv/devices.h>

/* ---- a recording fake device ---------------------------------------------- */

struct fake {
    unsigned calls;
    uint64_t offset;
    unsigned size;
    bool write;
    uint8_t wdata[BUS_MAX_ACCESS];      /* the bytes of the last write */
    uint8_t fill;                       /* reads return fill, fill + 1, ... */
    bool nofill;                        /* reads leave the buffer alone */
};

static void fake_access(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct fake *f = dev;
    uint8_t *b = data;

    assert_true(size >= 1 && size <= BUS_MAX_ACCESS);
    f->calls++;
    f->offset = offset;
    f->size = size;
    f->write = write;
    if (write) {
        memset(f->wdata, 0, sizeof(f->wdata));
        memcpy(f->wdata, data, size);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        assert_int_equal(b[i], 0xFF);   /* the bus hands reads over as all ones */
    if (!f->nofill)
        for (unsigned i = 0; i < size; i++)
            b[i] = (uint8_t)(f->fill + i);
}

static void never_called(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    (void)dev, (void)offset, (void)data, (void)size, (void)write;
    fail_msg("a device was called for an access it does not own");
}

static uint64_t ones(unsigned size)
{
    return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Port read; `value` starts as garbage so that stale bytes would show. */
static uint64_t pin(struct vm_bus *bus, uint16_t port, unsigned size, bool *owned)
{
    uint64_t v = 0xA5A5A5A5A5A5A5A5ULL;
    bool r = bus_pio(bus, port, size, false, &v);
    if (owned)
        *owned = r;
    return v;
}

static bool pout(struct vm_bus *bus, uint16_t port, unsigned size, uint64_t value)
{
    return bus_pio(bus, port, size, true, &value);
}

/* MMIO read of `size` bytes into out[] through an exact-size heap buffer
 * that starts as garbage. */
static bool mread(struct vm_bus *bus, uint64_t gpa, unsigned size, uint8_t *out)
{
    uint8_t garbage[BUS_MAX_ACCESS];
    memset(garbage, 0xA5, sizeof(garbage));
    uint8_t *buf = exact_copy(garbage, size);
    bool r = bus_mmio(bus, gpa, buf, size, false);
    memcpy(out, buf, size);
    free(buf);
    return r;
}

static bool mwrite(struct vm_bus *bus, uint64_t gpa, unsigned size, const void *data)
{
    uint8_t *buf = exact_copy(data, size);
    bool r = bus_mmio(bus, gpa, buf, size, true);
    assert_memory_equal(buf, data, size);   /* a write leaves the source alone */
    free(buf);
    return r;
}

/* Reads and writes of up to 8 bytes as little-endian integers. */
static uint64_t mread64(struct vm_bus *bus, uint64_t gpa, unsigned size)
{
    uint8_t b[BUS_MAX_ACCESS];
    uint64_t v = 0;
    assert_true(size <= 8);
    mread(bus, gpa, size, b);
    memcpy(&v, b, size);
    return v;
}

static void mwrite64(struct vm_bus *bus, uint64_t gpa, unsigned size, uint64_t v)
{
    assert_true(size <= 8);
    mwrite(bus, gpa, size, &v);
}

static const unsigned pio_sizes[] = { 1, 2, 4 };
static const unsigned mmio_sizes[] = { 1, 2, 4, 8, 16 };

/* ---- bus: adding ranges ------------------------------------------------------ */

static void test_add_pio(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { 0 };

    assert_int_equal(bus_add_pio(&bus, 0x3F8, 8, fake_access, &f, "a"), 0);
    /* Touching ranges on either side are fine. */
    assert_int_equal(bus_add_pio(&bus, 0x3F0, 8, fake_access, &f, "below"), 0);
    assert_int_equal(bus_add_pio(&bus, 0x400, 1, fake_access, &f, "above"), 0);
    assert_int_equal(bus.npio, 3);

    /* Overlaps: the last byte, the first byte, inside, around, the same. */
    assert_int_equal(bus_add_pio(&bus, 0x3E8, 9, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x400, 4, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x3FA, 2, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x300, 0x200, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x3F8, 8, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x3FF, 1, never_called, NULL, "x"), -1);
    /* Zero length, even where nothing is. */
    assert_int_equal(bus_add_pio(&bus, 0x80, 0, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x3F8, 0, never_called, NULL, "x"), -1);
    /* Past port 0xFFFF. */
    assert_int_equal(bus_add_pio(&bus, 0xFFFF, 2, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0x8000, 0x8001, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0xFFFF, 0xFFFF, never_called, NULL, "x"), -1);
    assert_int_equal(bus.npio, 3);

    /* Up to and including port 0xFFFF. */
    assert_int_equal(bus_add_pio(&bus, 0xFFFF, 1, fake_access, &f, "top"), 0);
    assert_int_equal(bus_add_pio(&bus, 0xF000, 0xFFF, fake_access, &f, "below-top"), 0);
    assert_int_equal(bus.npio, 5);

    /* The table holds what was added, in order, with no accesses yet. */
    assert_int_equal(bus.pio[0].base, 0x3F8);
    assert_int_equal(bus.pio[0].len, 8);
    assert_ptr_equal(bus.pio[0].access, fake_access);
    assert_ptr_equal(bus.pio[0].dev, &f);
    assert_string_equal(bus.pio[0].name, "a");
    assert_int_equal(bus.pio[0].accesses, 0);
    assert_int_equal(bus.pio[3].base, 0xFFFF);
    assert_int_equal(bus.pio[3].len, 1);
    assert_int_equal(bus.nmmio, 0);
}

static void test_add_pio_whole_space(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { 0 };

    /* 0x0000-0xFFFE is the longest range a uint16_t length allows. */
    assert_int_equal(bus_add_pio(&bus, 0, 0xFFFF, fake_access, &f, "all"), 0);
    assert_int_equal(bus_add_pio(&bus, 0x1234, 1, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_pio(&bus, 0xFFFF, 1, fake_access, &f, "last"), 0);
    assert_int_equal(bus.npio, 2);
}

static void test_add_full_tables(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { 0 };

    for (unsigned i = 0; i < BUS_MAX_PIO; i++)
        assert_int_equal(bus_add_pio(&bus, (uint16_t)(0x100 + 0x10 * i), 0x10, fake_access, &f, "p"), 0);
    assert_int_equal(bus.npio, BUS_MAX_PIO);
    assert_int_equal(bus_add_pio(&bus, 0x8000, 1, never_called, NULL, "x"), -1);
    assert_int_equal(bus.npio, BUS_MAX_PIO);

    for (unsigned i = 0; i < BUS_MAX_MMIO; i++)
        assert_int_equal(bus_add_mmio(&bus, 0xFEC00000ULL + 0x1000 * i, 0x1000, fake_access, &f, "m"), 0);
    assert_int_equal(bus.nmmio, BUS_MAX_MMIO);
    assert_int_equal(bus_add_mmio(&bus, 0x100000000ULL, 0x1000, never_called, NULL, "x"), -1);
    assert_int_equal(bus.nmmio, BUS_MAX_MMIO);

    /* Every range still answers. */
    for (unsigned i = 0; i < BUS_MAX_PIO; i++)
        assert_true(pout(&bus, (uint16_t)(0x10F + 0x10 * i), 1, 0));
    for (unsigned i = 0; i < BUS_MAX_MMIO; i++)
        assert_ptr_equal(bus_find_mmio(&bus, 0xFEC00FFFULL + 0x1000 * i), &bus.mmio[i]);
    assert_int_equal(f.calls, BUS_MAX_PIO);
}

static void test_add_mmio(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { 0 };

    assert_int_equal(bus_add_mmio(&bus, 0xFEB00000ULL, 0x1000, fake_access, &f, "a"), 0);
    assert_int_equal(bus_add_mmio(&bus, 0xFEB01000ULL, 0x10, fake_access, &f, "after"), 0);
    assert_int_equal(bus_add_mmio(&bus, 0xFEAFF000ULL, 0x1000, fake_access, &f, "before"), 0);
    assert_int_equal(bus_add_mmio(&bus, 0x1000000000ULL, 1, fake_access, &f, "high"), 0);
    assert_int_equal(bus.nmmio, 4);

    assert_int_equal(bus_add_mmio(&bus, 0xFEB00FFFULL, 2, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_mmio(&bus, 0xFEAFFFFFULL, 1, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_mmio(&bus, 0xFEB00800ULL, 8, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_mmio(&bus, 0, 0x100000000ULL, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_mmio(&bus, 0x1000000000ULL, 1, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_mmio(&bus, 0x20000000ULL, 0, never_called, NULL, "x"), -1);
    assert_int_equal(bus_add_mmio(&bus, 0xFEB00000ULL, 0, never_called, NULL, "x"), -1);
    /* A range that wraps past the top of the address space. */
    assert_int_equal(bus_add_mmio(&bus, 0xFFFFFFFFFFFFF000ULL, 0x2000, never_called, NULL, "x"), -1);
    assert_int_equal(bus.nmmio, 4);

    assert_int_equal(bus.mmio[1].base, 0xFEB01000ULL);
    assert_int_equal(bus.mmio[1].len, 0x10);
    assert_string_equal(bus.mmio[1].name, "after");
    assert_int_equal(bus.mmio[1].accesses, 0);
    assert_int_equal(bus.npio, 0);
}

static void test_find_mmio(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { 0 };

    assert_null(bus_find_mmio(&bus, 0));
    assert_int_equal(bus_add_mmio(&bus, 0x1000, 0x100, fake_access, &f, "a"), 0);
    assert_int_equal(bus_add_mmio(&bus, 0x1100, 0x10, fake_access, &f, "b"), 0);
    assert_null(bus_find_mmio(&bus, 0xFFF));
    assert_ptr_equal(bus_find_mmio(&bus, 0x1000), &bus.mmio[0]);
    assert_ptr_equal(bus_find_mmio(&bus, 0x10FF), &bus.mmio[0]);
    assert_ptr_equal(bus_find_mmio(&bus, 0x1100), &bus.mmio[1]);
    assert_ptr_equal(bus_find_mmio(&bus, 0x110F), &bus.mmio[1]);
    assert_null(bus_find_mmio(&bus, 0x1110));
    assert_null(bus_find_mmio(&bus, ~0ULL));
    assert_int_equal(f.calls, 0);
}

/* ---- bus: port accesses -------------------------------------------------------- */

static void test_pio_dispatch(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake a = { .fill = 0x10 }, b = { .fill = 0x80 };
    bool owned;

    assert_int_equal(bus_add_pio(&bus, 0x3F8, 8, fake_access, &a, "a"), 0);
    assert_int_equal(bus_add_pio(&bus, 0x20, 2, fake_access, &b, "b"), 0);

    /* Reads: the device's bytes, little endian, zero-extended to 64 bits. */
    assert_int_equal(pin(&bus, 0x3F8, 1, &owned), 0x10);
    assert_true(owned);
    assert_int_equal(a.offset, 0);
    assert_int_equal(a.size, 1);
    assert_false(a.write);
    assert_int_equal(pin(&bus, 0x3FD, 2, &owned), 0x1110);
    assert_true(owned);
    assert_int_equal(a.offset, 5);
    assert_int_equal(a.size, 2);
    assert_int_equal(pin(&bus, 0x3FC, 4, &owned), 0x13121110);
    assert_int_equal(a.offset, 4);
    assert_int_equal(a.size, 4);
    assert_int_equal(pin(&bus, 0x21, 1, &owned), 0x80);
    assert_true(owned);
    assert_int_equal(b.offset, 1);

    /* Writes: the value's low `size` bytes. */
    assert_true(pout(&bus, 0x3FF, 1, 0xDEADBEEFCAFE12ABULL));
    assert_int_equal(a.offset, 7);
    assert_int_equal(a.size, 1);
    assert_true(a.write);
    assert_memory_equal(a.wdata, "\xAB\0\0\0", 4);
    assert_true(pout(&bus, 0x3F9, 2, 0x12345678));
    assert_int_equal(a.offset, 1);
    assert_int_equal(a.size, 2);
    assert_memory_equal(a.wdata, "\x78\x56\0\0", 4);
    assert_true(pout(&bus, 0x20, 4, 0xFFEEDDCCBBAA9988ULL));
    assert_int_equal(b.offset, 0);
    assert_int_equal(b.size, 4);
    assert_true(b.write);
    assert_memory_equal(b.wdata, "\x88\x99\xAA\xBB\0", 5);

    assert_int_equal(a.calls, 5);
    assert_int_equal(b.calls, 2);
    assert_int_equal(bus.pio[0].accesses, 5);
    assert_int_equal(bus.pio[1].accesses, 2);
    assert_int_equal(bus.unowned_pio, 0);
    assert_int_equal(bus.unowned_mmio, 0);
}

static void test_pio_unowned(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake a = { 0 };
    bool owned;

    /* An empty bus. */
    for (unsigned i = 0; i < ARRAY_SIZE(pio_sizes); i++) {
        assert_int_equal(pin(&bus, 0x80, pio_sizes[i], &owned), ones(pio_sizes[i]));
        assert_false(owned);
    }
    assert_int_equal(bus.unowned_pio, 3);

    assert_int_equal(bus_add_pio(&bus, 0x60, 4, fake_access, &a, "a"), 0);
    /* Just outside the range on either side, and far away. */
    const uint16_t ports[] = { 0x5F, 0x64, 0, 0xFFFF };
    for (unsigned p = 0; p < ARRAY_SIZE(ports); p++)
        for (unsigned i = 0; i < ARRAY_SIZE(pio_sizes); i++) {
            assert_int_equal(pin(&bus, ports[p], pio_sizes[i], &owned), ones(pio_sizes[i]));
            assert_false(owned);
        }
    assert_int_equal(bus.unowned_pio, 3 + 12);
    assert_int_equal(pin(&bus, 0x5F, 1, NULL), 0xFF);
    assert_int_equal(pin(&bus, 0x5F, 2, NULL), 0xFFFF);
    assert_int_equal(pin(&bus, 0x5F, 4, NULL), 0xFFFFFFFF);

    /* Writes are counted and dropped; the caller's value is untouched. */
    uint64_t v = 0x1122334455667788ULL;
    assert_false(bus_pio(&bus, 0x64, 4, true, &v));
    assert_int_equal(v, 0x1122334455667788ULL);
    assert_false(pout(&bus, 0x5F, 1, 0));
    assert_false(pout(&bus, 0xFFFF, 2, 0));
    assert_int_equal(bus.unowned_pio, 3 + 12 + 3 + 3);

    assert_int_equal(a.calls, 0);
    assert_int_equal(bus.pio[0].accesses, 0);
    assert_int_equal(bus.unowned_mmio, 0);
}

static void test_pio_device_does_not_fill(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { .nofill = true };
    bool owned;

    assert_int_equal(bus_add_pio(&bus, 0x70, 2, fake_access, &f, "silent"), 0);
    for (unsigned i = 0; i < ARRAY_SIZE(pio_sizes); i++) {
        assert_int_equal(pin(&bus, 0x71, pio_sizes[i], &owned), ones(pio_sizes[i]));
        assert_true(owned);                 /* owned, so not counted as unowned */
        assert_int_equal(f.size, pio_sizes[i]);
    }
    assert_int_equal(f.calls, 3);
    assert_int_equal(bus.pio[0].accesses, 3);
    assert_int_equal(bus.unowned_pio, 0);
}

/* ---- bus: MMIO accesses ----------------------------------------------------------- */

#define MBASE   0xFED00000ULL

static void test_mmio_sizes(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { .fill = 0x40 };
    uint8_t buf[BUS_MAX_ACCESS], expect[BUS_MAX_ACCESS];

    assert_int_equal(bus_add_mmio(&bus, MBASE, 0x1000, fake_access, &f, "dev"), 0);
    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
        unsigned size = mmio_sizes[i];
        uint64_t off = 0x100 + 0x11 * i;    /* unaligned offsets too */

        assert_true(mread(&bus, MBASE + off, size, buf));
        assert_int_equal(f.offset, off);
        assert_int_equal(f.size, size);
        assert_false(f.write);
        for (unsigned k = 0; k < size; k++)
            expect[k] = (uint8_t)(0x40 + k);
        assert_memory_equal(buf, expect, size);

        for (unsigned k = 0; k < size; k++)
            expect[k] = (uint8_t)(0xC0 ^ (k * 7 + size));
        assert_true(mwrite(&bus, MBASE + off + 1, size, expect));
        assert_int_equal(f.offset, off + 1);
        assert_int_equal(f.size, size);
        assert_true(f.write);
        assert_memory_equal(f.wdata, expect, size);
    }
    /* The first and last bytes of the range. */
    assert_true(mread(&bus, MBASE, 16, buf));
    assert_int_equal(f.offset, 0);
    assert_true(mread(&bus, MBASE + 0xFFF, 1, buf));
    assert_int_equal(f.offset, 0xFFF);
    assert_int_equal(f.size, 1);

    assert_int_equal(f.calls, 12);
    assert_int_equal(bus.mmio[0].accesses, 12);
    assert_int_equal(bus.unowned_mmio, 0);
    assert_int_equal(bus.unowned_pio, 0);
}

static void test_mmio_two_devices(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake a = { .fill = 1 }, b = { .fill = 0x81 };

    assert_int_equal(bus_add_mmio(&bus, MBASE, 0x100, fake_access, &a, "a"), 0);
    assert_int_equal(bus_add_mmio(&bus, 0x80000000ULL, 0x10, fake_access, &b, "b"), 0);
    assert_int_equal(mread64(&bus, 0x80000008ULL, 4), 0x84838281);
    assert_int_equal(b.offset, 8);
    assert_int_equal(mread64(&bus, MBASE + 0x20, 2), 0x0201);
    assert_int_equal(a.offset, 0x20);
    mwrite64(&bus, 0x8000000FULL, 1, 0x5A);
    assert_int_equal(b.offset, 0xF);
    assert_true(b.write);
    assert_int_equal(b.wdata[0], 0x5A);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 2);
    assert_int_equal(bus.mmio[0].accesses, 1);
    assert_int_equal(bus.mmio[1].accesses, 2);
}

static void test_mmio_cut_at_range_end(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake a = { .fill = 0x30 }, next = { 0 };
    uint8_t buf[BUS_MAX_ACCESS], expect[BUS_MAX_ACCESS];

    /* A 16-byte range with another right after it, which must not see the
     * rest of an access cut at the first one's end. */
    assert_int_equal(bus_add_mmio(&bus, MBASE, 0x10, fake_access, &a, "a"), 0);
    assert_int_equal(bus_add_mmio(&bus, MBASE + 0x10, 0x10, never_called, &next, "next"), 0);

    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
        unsigned size = mmio_sizes[i];
        for (unsigned off = 0; off < 0x10; off++) {
            unsigned inside = MIN(size, 0x10 - off);

            assert_true(mread(&bus, MBASE + off, size, buf));
            assert_int_equal(a.offset, off);
            assert_int_equal(a.size, inside);
            assert_false(a.write);
            memset(expect, 0xFF, sizeof(expect));
            for (unsigned k = 0; k < inside; k++)
                expect[k] = (uint8_t)(0x30 + k);
            assert_memory_equal(buf, expect, size);

            for (unsigned k = 0; k < size; k++)
                buf[k] = (uint8_t)(0x90 + k);
            assert_true(mwrite(&bus, MBASE + off, size, buf));
            assert_int_equal(a.offset, off);
            assert_int_equal(a.size, inside);
            assert_true(a.write);
            assert_memory_equal(a.wdata, buf, inside);
        }
    }
    assert_int_equal(bus.mmio[0].accesses, 2 * 5 * 16);
    assert_int_equal(bus.mmio[1].accesses, 0);
    assert_int_equal(bus.unowned_mmio, 0);
}

static void test_mmio_cut_one_byte_range(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake a = { .fill = 0x77 };
    uint8_t buf[BUS_MAX_ACCESS];

    assert_int_equal(bus_add_mmio(&bus, 0x1000, 1, fake_access, &a, "byte"), 0);
    assert_true(mread(&bus, 0x1000, 16, buf));
    assert_int_equal(a.size, 1);
    assert_int_equal(buf[0], 0x77);
    for (unsigned k = 1; k < 16; k++)
        assert_int_equal(buf[k], 0xFF);
    /* The next byte is nobody's. */
    assert_false(mread(&bus, 0x1001, 1, buf));
    assert_int_equal(buf[0], 0xFF);
    assert_int_equal(bus.unowned_mmio, 1);
}

static void test_mmio_unowned(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake a = { 0 };
    uint8_t buf[BUS_MAX_ACCESS], all_ones[BUS_MAX_ACCESS];
    memset(all_ones, 0xFF, sizeof(all_ones));

    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
        assert_false(mread(&bus, 0, mmio_sizes[i], buf));
        assert_memory_equal(buf, all_ones, mmio_sizes[i]);
    }
    assert_int_equal(bus.unowned_mmio, 5);

    assert_int_equal(bus_add_mmio(&bus, MBASE, 0x100, fake_access, &a, "a"), 0);
    /* Starting before the range (the access belongs to whoever owns its first
     * byte: nobody), just past its end, far away. */
    const uint64_t gpas[] = { MBASE - 1, MBASE - 16, MBASE + 0x100, ~0ULL - 15 };
    for (unsigned g = 0; g < ARRAY_SIZE(gpas); g++)
        for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
            assert_false(mread(&bus, gpas[g], mmio_sizes[i], buf));
            assert_memory_equal(buf, all_ones, mmio_sizes[i]);
        }
    assert_int_equal(bus.unowned_mmio, 5 + 20);

    /* Writes are counted and dropped. */
    const uint8_t data[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++)
        assert_false(mwrite(&bus, MBASE + 0x100, mmio_sizes[i], data));
    assert_int_equal(bus.unowned_mmio, 5 + 20 + 5);

    assert_int_equal(a.calls, 0);
    assert_int_equal(bus.mmio[0].accesses, 0);
    assert_int_equal(bus.unowned_pio, 0);
}

static void test_mmio_device_does_not_fill(void **state)
{
    (void)state;
    struct vm_bus bus = { 0 };
    struct fake f = { .nofill = true };
    uint8_t buf[BUS_MAX_ACCESS], all_ones[BUS_MAX_ACCESS];
    memset(all_ones, 0xFF, sizeof(all_ones));

    assert_int_equal(bus_add_mmio(&bus, MBASE, 0x1000, fake_access, &f, "silent"), 0);
    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
        assert_true(mread(&bus, MBASE + 3, mmio_sizes[i], buf));
        assert_memory_equal(buf, all_ones, mmio_sizes[i]);
    }
    assert_true(mread(&bus, MBASE + 0xFFA, 16, buf));   /* cut, and not filled */
    assert_int_equal(f.size, 6);
    assert_memory_equal(buf, all_ones, 16);
    assert_int_equal(f.calls, 6);
    assert_int_equal(bus.mmio[0].accesses, 6);
    assert_int_equal(bus.unowned_mmio, 0);
}

/* ---- the test device ---------------------------------------------------------------- */

struct tenv {
    struct vm_bus bus;
    struct testdev td;
};

#define TD(off)     (TESTDEV_MMIO_BASE + (off))

static int td_setup(void **state)
{
    struct tenv *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    /* As kernel/vm/vdev.c adds it. */
    assert_int_equal(bus_add_mmio(&e->bus, TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE, testdev_mmio,
                                  &e->td, "testdev"), 0);
    assert_int_equal(bus_add_pio(&e->bus, TESTDEV_PORT_FIFO,
                                 TESTDEV_PORT_COUNT - TESTDEV_PORT_FIFO + 4, testdev_pio, &e->td,
                                 "testdev-fifo"), 0);
    *state = e;
    return 0;
}

static int td_teardown(void **state)
{
    free(*state);
    return 0;
}

static uint64_t td_count(struct tenv *e)
{
    return mread64(&e->bus, TD(TESTDEV_ACCESS_COUNT), 8);
}

static uint64_t td_last(struct tenv *e)
{
    return mread64(&e->bus, TD(TESTDEV_LAST_ACCESS), 8);
}

static uint64_t last_enc(uint64_t offset, unsigned size, bool write)
{
    return offset | (uint64_t)size << 16 | (uint64_t)write << 24;
}

/* Compares the whole scratch area, read 16 bytes at a time, with a model. */
static void check_scratch(struct tenv *e, const uint8_t *model)
{
    uint8_t buf[16];
    for (unsigned off = 0; off < TESTDEV_SCRATCH_SIZE; off += 16) {
        assert_true(mread(&e->bus, TD(off), 16, buf));
        assert_memory_equal(buf, model + off, 16);
    }
}

static void test_td_starts_zeroed(void **state)
{
    struct tenv *e = *state;
    uint8_t zero[TESTDEV_SCRATCH_SIZE] = { 0 };
    check_scratch(e, zero);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 8), TESTDEV_MAGIC);
    assert_int_equal(pin(&e->bus, TESTDEV_PORT_COUNT, 4, NULL), 0);
}

static void test_td_scratch_every_size_and_offset(void **state)
{
    struct tenv *e = *state;
    uint8_t model[TESTDEV_SCRATCH_SIZE] = { 0 }, data[16], buf[16];
    uint8_t seq = 1;

    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
        unsigned size = mmio_sizes[i];
        for (unsigned off = 0; off + size <= TESTDEV_SCRATCH_SIZE; off++) {
            for (unsigned k = 0; k < size; k++)
                data[k] = seq++;
            assert_true(mwrite(&e->bus, TD(off), size, data));
            memcpy(model + off, data, size);
            assert_true(mread(&e->bus, TD(off), size, buf));
            assert_memory_equal(buf, data, size);
            /* Neighbours are untouched. */
            if (off % 37 == 0 || off + size == TESTDEV_SCRATCH_SIZE)
                check_scratch(e, model);
        }
        check_scratch(e, model);
    }
    assert_int_equal(e->bus.unowned_mmio, 0);
}

static void test_td_scratch_random_mixed(void **state)
{
    struct tenv *e = *state;
    uint8_t model[TESTDEV_SCRATCH_SIZE] = { 0 }, data[16], buf[16];
    uint64_t rng = 0x9E3779B97F4A7C15ULL;

    /* Writes of one size read back through others, at any offset. */
    for (unsigned n = 0; n < 4000; n++) {
        unsigned size = mmio_sizes[rng_below(&rng, ARRAY_SIZE(mmio_sizes))];
        unsigned off = (unsigned)rng_below(&rng, TESTDEV_SCRATCH_SIZE - size + 1);
        if (rng_below(&rng, 2)) {
            for (unsigned k = 0; k < size; k++)
                data[k] = (uint8_t)rng_next(&rng);
            assert_true(mwrite(&e->bus, TD(off), size, data));
            memcpy(model + off, data, size);
        } else {
            assert_true(mread(&e->bus, TD(off), size, buf));
            assert_memory_equal(buf, model + off, size);
        }
    }
    check_scratch(e, model);

    /* Little endian: an 8-byte value read back in pieces. */
    mwrite64(&e->bus, TD(0x41), 8, 0x0123456789ABCDEFULL);
    assert_int_equal(mread64(&e->bus, TD(0x41), 1), 0xEF);
    assert_int_equal(mread64(&e->bus, TD(0x42), 2), 0xABCD);
    assert_int_equal(mread64(&e->bus, TD(0x45), 4), 0x01234567);
    assert_int_equal(mread64(&e->bus, TD(0x43), 4), 0x456789AB);
}

static void test_td_access_count(void **state)
{
    struct tenv *e = *state;
    uint8_t buf[16] = { 0 };

    assert_int_equal(td_count(e), 0);           /* nothing before this read */
    assert_int_equal(td_count(e), 1);
    /* Every kind of access counts: scratch, registers, holes, writes, cut
     * accesses at the window's end. */
    mwrite64(&e->bus, TD(0), 4, 1);
    mread64(&e->bus, TD(0xFF), 1);
    mread(&e->bus, TD(0x10), 16, buf);
    mwrite64(&e->bus, TD(0x800), 2, 0);
    mread64(&e->bus, TD(0xFFC), 8);
    mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 8);
    mwrite64(&e->bus, TD(TESTDEV_ACCESS_COUNT), 8, 0);  /* read-only: no reset */
    assert_int_equal(td_count(e), 9);
    /* Partial reads of the counter. */
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_ACCESS_COUNT), 1), 10);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_ACCESS_COUNT), 4), 11);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_ACCESS_COUNT + 4), 4), 0);
    assert_int_equal(td_count(e), 13);
    /* Port accesses are not window accesses; unowned MMIO is nobody's. */
    pout(&e->bus, TESTDEV_PORT_FIFO, 1, 0);
    pin(&e->bus, TESTDEV_PORT_COUNT, 4, NULL);
    mread64(&e->bus, TD(TESTDEV_MMIO_SIZE), 4);
    assert_int_equal(td_count(e), 14);
    assert_int_equal(e->bus.mmio[0].accesses, 15);

    /* Bytes above the low one, with a count past 255. */
    for (unsigned i = 0; i < 300; i++)
        mread64(&e->bus, TD(0), 1);
    uint64_t n = td_count(e);
    assert_int_equal(n, 315);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_ACCESS_COUNT + 1), 1), 316 >> 8);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_ACCESS_COUNT), 2), 317);
}

static void test_td_last_access(void **state)
{
    struct tenv *e = *state;
    uint8_t buf[16] = { 0 };

    assert_int_equal(td_last(e), 0);            /* no access before the first */
    assert_int_equal(td_last(e), last_enc(TESTDEV_LAST_ACCESS, 8, false));

    const struct { uint64_t off; unsigned size; bool write; } seq[] = {
        { 0x10, 4, true }, { 0x10, 4, false }, { 0x00, 1, true }, { 0xFF, 1, false },
        { 0x37, 2, true }, { 0xF0, 16, true }, { 0x21, 16, false }, { 0x48, 8, false },
        { 0x100, 8, true }, { 0x110, 4, false }, { 0x118, 2, false }, { 0xABC, 8, true },
        { 0xFFF, 1, false }, { 0x7, 8, true },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(seq); i++) {
        memset(buf, (int)i, sizeof(buf));
        if (seq[i].write)
            mwrite(&e->bus, TD(seq[i].off), seq[i].size, buf);
        else
            mread(&e->bus, TD(seq[i].off), seq[i].size, buf);
        assert_int_equal(td_last(e), last_enc(seq[i].off, seq[i].size, seq[i].write));
    }

    /* A read cut at the window's end: the device saw 4 bytes. */
    mread64(&e->bus, TD(0xFFC), 8);
    assert_int_equal(td_last(e), last_enc(0xFFC, 4, false));
    mread(&e->bus, TD(0xFFF), 16, buf);
    assert_int_equal(td_last(e), last_enc(0xFFF, 1, false));

    /* Partial reads of LAST_ACCESS see the previous access too. */
    mwrite64(&e->bus, TD(0xA0), 2, 0);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_LAST_ACCESS + 3), 1), 1);      /* write bit */
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_LAST_ACCESS + 2), 1), 1);      /* size 1 */
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_LAST_ACCESS), 4),
                     last_enc(TESTDEV_LAST_ACCESS + 2, 1, false));
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_LAST_ACCESS + 4), 4), 0);
}

static void test_td_magic(void **state)
{
    struct tenv *e = *state;
    uint8_t buf[16];

    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 8), 0x54534554564D5648ULL);
    assert_int_equal(TESTDEV_MAGIC, 0x54534554564D5648ULL);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + i), 1), (uint8_t)"HVMVTEST"[i]);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 2), 0x5648);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + 6), 2), 0x5453);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 4), 0x564D5648);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + 4), 4), 0x54534554);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + 1), 4), 0x54564D56);    /* unaligned */
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + 3), 2), 0x5456);

    /* Bytes past the register are a hole: all ones. */
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + 4), 8), 0xFFFFFFFF54534554ULL);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG + 7), 2), 0xFF54);
    assert_true(mread(&e->bus, TD(TESTDEV_MAGIC_REG), 16, buf));
    assert_memory_equal(buf, "HVMVTEST\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 16);

    /* Writes are ignored. */
    for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
        uint8_t zero[16] = { 0 };
        mwrite(&e->bus, TD(TESTDEV_MAGIC_REG), mmio_sizes[i], zero);
    }
    mwrite64(&e->bus, TD(TESTDEV_MAGIC_REG + 3), 4, 0x12345678);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 8), TESTDEV_MAGIC);
}

static void test_td_holes(void **state)
{
    struct tenv *e = *state;
    uint8_t model[TESTDEV_SCRATCH_SIZE], buf[16], all_ones[16], data[16];
    memset(all_ones, 0xFF, sizeof(all_ones));
    memset(data, 0x00, sizeof(data));

    for (unsigned i = 0; i < TESTDEV_SCRATCH_SIZE; i++)
        model[i] = (uint8_t)(i * 13 + 5);
    for (unsigned off = 0; off < TESTDEV_SCRATCH_SIZE; off += 16)
        mwrite(&e->bus, TD(off), 16, model + off);

    /* Every offset past the registers, every size; cut at the window's end. */
    for (unsigned off = TESTDEV_MAGIC_REG + 8; off < TESTDEV_MMIO_SIZE; off++)
        for (unsigned i = 0; i < ARRAY_SIZE(mmio_sizes); i++) {
            unsigned size = mmio_sizes[i];
            assert_true(mwrite(&e->bus, TD(off), size, data));
            assert_true(mread(&e->bus, TD(off), size, buf));
            assert_memory_equal(buf, all_ones, size);
        }
    /* Writes to the registers are ignored too. */
    for (unsigned off = TESTDEV_ACCESS_COUNT; off < TESTDEV_MAGIC_REG + 8; off++)
        mwrite64(&e->bus, TD(off), 1, 0);
    assert_int_equal(mread64(&e->bus, TD(TESTDEV_MAGIC_REG), 8), TESTDEV_MAGIC);
    assert_int_equal(td_count(e), 16 + (TESTDEV_MMIO_SIZE - 0x118) * 10 + 0x18 + 1);

    check_scratch(e, model);                    /* none of it reached the scratch */
    assert_int_equal(e->bus.unowned_mmio, 0);
}

static void test_td_outside_window(void **state)
{
    struct tenv *e = *state;
    uint8_t buf[16];

    assert_false(mread(&e->bus, TD(TESTDEV_MMIO_SIZE), 4, buf));
    assert_false(mread(&e->bus, TESTDEV_MMIO_BASE - 1, 1, buf));
    assert_false(mwrite(&e->bus, TESTDEV_MMIO_BASE - 8, 8, buf));
    assert_int_equal(e->bus.unowned_mmio, 3);
    assert_int_equal(td_count(e), 0);
}

/* ---- the test device's port FIFO --------------------------------------------------------- */

#define FIFO    TESTDEV_PORT_FIFO
#define COUNT   TESTDEV_PORT_COUNT

static void test_td_fifo_order_mixed_sizes(void **state)
{
    struct tenv *e = *state;

    assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0xFF);        /* empty */
    assert_true(pout(&e->bus, FIFO, 1, 0xDEADBE11));
    assert_true(pout(&e->bus, FIFO, 2, 0xBEEF3322));
    assert_true(pout(&e->bus, FIFO, 4, 0xCAFEF00D77665544ULL));
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 7);
    assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0x44332211);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 3);
    assert_int_equal(pin(&e->bus, FIFO, 2, NULL), 0x6655);
    assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0x77);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 0);

    /* Empty reads return 0xFF per byte and change nothing. */
    assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0xFF);
    assert_int_equal(pin(&e->bus, FIFO, 2, NULL), 0xFFFF);
    assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0xFFFFFFFF);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 0);

    /* A read of more bytes than are queued: the rest are 0xFF. */
    pout(&e->bus, FIFO, 1, 0xAB);
    assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0xFFFFFFAB);
    pout(&e->bus, FIFO, 2, 0x1234);
    pout(&e->bus, FIFO, 1, 0x56);
    assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0xFF561234);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 0);

    /* Byte pushes read back as a dword. */
    for (unsigned i = 0; i < 4; i++)
        pout(&e->bus, FIFO, 1, 0xA0 + i);
    assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0xA3A2A1A0);

    assert_int_equal(e->bus.unowned_pio, 0);
}

static void test_td_fifo_random_mixed(void **state)
{
    struct tenv *e = *state;
    uint8_t model[TESTDEV_FIFO_SIZE];
    unsigned head = 0, count = 0;
    uint64_t rng = 12345;

    /* Against a model queue, wrapping around its buffer many times. */
    for (unsigned n = 0; n < 20000; n++) {
        unsigned size = pio_sizes[rng_below(&rng, 3)];
        if (rng_below(&rng, 2)) {
            uint64_t v = rng_next(&rng);
            pout(&e->bus, FIFO, size, v);
            for (unsigned k = 0; k < size && count < TESTDEV_FIFO_SIZE; k++)
                model[(head + count++) % TESTDEV_FIFO_SIZE] = (uint8_t)(v >> (8 * k));
        } else {
            uint64_t expect = 0;
            for (unsigned k = 0; k < size; k++) {
                uint8_t b = 0xFF;
                if (count) {
                    b = model[head];
                    head = (head + 1) % TESTDEV_FIFO_SIZE;
                    count--;
                }
                expect |= (uint64_t)b << (8 * k);
            }
            assert_int_equal(pin(&e->bus, FIFO, size, NULL), expect);
        }
        if (n % 97 == 0)
            assert_int_equal(pin(&e->bus, COUNT, 4, NULL), count);
    }
}

/* Fills the FIFO from a given position of its ring buffer (`skew` bytes
 * pushed and popped first), overfills it, and drains it. */
static void fifo_capacity(struct tenv *e, unsigned skew)
{
    pout(&e->bus, COUNT, 1, 0);
    for (unsigned i = 0; i < skew; i++) {
        pout(&e->bus, FIFO, 1, 0x99);
        assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0x99);
    }
    for (unsigned i = 0; i < TESTDEV_FIFO_SIZE / 4; i++) {
        uint32_t v = 0;
        for (unsigned k = 0; k < 4; k++)
            v |= (uint32_t)(uint8_t)(4 * i + k) << (8 * k);
        pout(&e->bus, FIFO, 4, v);
    }
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), TESTDEV_FIFO_SIZE);
    assert_int_equal(pin(&e->bus, COUNT, 2, NULL), TESTDEV_FIFO_SIZE);
    assert_int_equal(pin(&e->bus, COUNT, 1, NULL), TESTDEV_FIFO_SIZE & 0xFF);
    /* The 4097th byte is dropped, and so are later ones. */
    pout(&e->bus, FIFO, 1, 0xEE);
    pout(&e->bus, FIFO, 4, 0xEEEEEEEE);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), TESTDEV_FIFO_SIZE);

    /* Pop a few, push across the buffer's end: only the free bytes fit. */
    assert_int_equal(pin(&e->bus, FIFO, 2, NULL), 0x0100);
    assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0x02);
    pout(&e->bus, FIFO, 4, 0xD4D3D2D1);         /* 3 free: D1 D2 D3 kept */
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), TESTDEV_FIFO_SIZE);

    for (unsigned i = 3; i < TESTDEV_FIFO_SIZE; i++)
        assert_int_equal(pin(&e->bus, FIFO, 1, NULL), (uint8_t)i);
    assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0xFFD3D2D1);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 0);
    assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0xFF);
}

static void test_td_fifo_capacity(void **state)
{
    struct tenv *e = *state;
    const unsigned skews[] = { 0, 1, 5, 2047, 4093, 4095 };
    for (unsigned i = 0; i < ARRAY_SIZE(skews); i++)
        fifo_capacity(e, skews[i]);
}

static void test_td_fifo_clear(void **state)
{
    struct tenv *e = *state;

    for (unsigned i = 0; i < ARRAY_SIZE(pio_sizes); i++) {
        pout(&e->bus, FIFO, 4, 0x04030201);
        pout(&e->bus, FIFO, 2, 0x0605);
        assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0x01);
        assert_int_equal(pin(&e->bus, COUNT, pio_sizes[i], NULL), 5);
        /* A write of any size and value empties it. */
        assert_true(pout(&e->bus, COUNT, pio_sizes[i], i == 1 ? 0 : 0x12345678));
        assert_int_equal(pin(&e->bus, COUNT, pio_sizes[i], NULL), 0);
        assert_int_equal(pin(&e->bus, FIFO, 1, NULL), 0xFF);
        /* And it works as before afterwards. */
        pout(&e->bus, FIFO, 2, 0xBBAA);
        pout(&e->bus, FIFO, 1, 0xCC);
        assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 3);
        assert_int_equal(pin(&e->bus, FIFO, 4, NULL), 0xFFCCBBAA);
    }
    /* Clearing a full FIFO. */
    for (unsigned i = 0; i < TESTDEV_FIFO_SIZE + 10; i++)
        pout(&e->bus, FIFO, 1, i);
    pout(&e->bus, COUNT, 4, 0);
    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 0);
    pout(&e->bus, FIFO, 1, 0x42);
    assert_int_equal(pin(&e->bus, FIFO, 2, NULL), 0xFF42);
}

static void test_td_other_ports(void **state)
{
    struct tenv *e = *state;
    bool owned;

    pout(&e->bus, FIFO, 2, 0x2211);
    /* 0x511-0x513 and 0x515-0x517 belong to the device but do nothing. */
    const uint16_t idle[] = { 0x511, 0x512, 0x513, 0x515, 0x516, 0x517 };
    for (unsigned p = 0; p < ARRAY_SIZE(idle); p++)
        for (unsigned i = 0; i < ARRAY_SIZE(pio_sizes); i++) {
            assert_true(pout(&e->bus, idle[p], pio_sizes[i], 0));
            assert_int_equal(pin(&e->bus, idle[p], pio_sizes[i], &owned), ones(pio_sizes[i]));
            assert_true(owned);
        }
    assert_int_equal(e->bus.pio[0].accesses, 1 + 36);
    /* Its neighbours are nobody's. */
    assert_int_equal(pin(&e->bus, 0x50F, 1, &owned), 0xFF);
    assert_false(owned);
    assert_int_equal(pin(&e->bus, 0x518, 4, &owned), 0xFFFFFFFF);
    assert_false(owned);
    assert_false(pout(&e->bus, 0x518, 1, 0));
    assert_int_equal(e->bus.unowned_pio, 3);

    assert_int_equal(pin(&e->bus, COUNT, 4, NULL), 2);
    assert_int_equal(pin(&e->bus, FIFO, 2, NULL), 0x2211);
    /* The FIFO does not touch the MMIO window's state, nor its counter. */
    assert_int_equal(td_count(e), 0);
}

#define TT(name) cmocka_unit_test_setup_teardown(name, td_setup, td_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_pio),
        cmocka_unit_test(test_add_pio_whole_space),
        cmocka_unit_test(test_add_full_tables),
        cmocka_unit_test(test_add_mmio),
        cmocka_unit_test(test_find_mmio),
        cmocka_unit_test(test_pio_dispatch),
        cmocka_unit_test(test_pio_unowned),
        cmocka_unit_test(test_pio_device_does_not_fill),
        cmocka_unit_test(test_mmio_sizes),
        cmocka_unit_test(test_mmio_two_devices),
        cmocka_unit_test(test_mmio_cut_at_range_end),
        cmocka_unit_test(test_mmio_cut_one_byte_range),
        cmocka_unit_test(test_mmio_unowned),
        cmocka_unit_test(test_mmio_device_does_not_fill),
        TT(test_td_starts_zeroed),
        TT(test_td_scratch_every_size_and_offset),
        TT(test_td_scratch_random_mixed),
        TT(test_td_access_count),
        TT(test_td_last_access),
        TT(test_td_magic),
        TT(test_td_holes),
        TT(test_td_outside_window),
        TT(test_td_fifo_order_mixed_sizes),
        TT(test_td_fifo_random_mixed),
        TT(test_td_fifo_capacity),
        TT(test_td_fifo_clear),
        TT(test_td_other_ports),
    };
    return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
