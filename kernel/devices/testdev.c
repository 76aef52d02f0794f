/*
 * The test device: a window of scratch registers that behave like memory, a
 * few read-only registers that let a guest check what the device saw, and a
 * byte FIFO on a port for string I/O.  Guests in guests/ use it to check every
 * emulated instruction form against the same instruction on RAM.
 */
#include <hv/devices.h>
#include <hv/kstring.h>

#define LAST_SIZE_SHIFT     16
#define LAST_WRITE          BIT(24)

static void read_only_reg(uint64_t value, uint64_t offset_in_reg, void *data, unsigned size)
{
    uint8_t bytes[8];
    memcpy(bytes, &value, 8);
    for (unsigned i = 0; i < size && offset_in_reg + i < 8; i++)
        ((uint8_t *)data)[i] = bytes[offset_in_reg + i];
}

void testdev_mmio(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct testdev *t = dev;
    uint64_t count = t->access_count, last = t->last_access;

    t->access_count++;
    t->last_access = offset | ((uint64_t)size << LAST_SIZE_SHIFT) | (write ? LAST_WRITE : 0);
    if (offset + size <= TESTDEV_SCRATCH_SIZE) {
        if (write)
            memcpy(t->scratch + offset, data, size);
        else
            memcpy(data, t->scratch + offset, size);
        return;
    }
    if (write)
        return;                         /* read-only registers and holes ignore writes */
    if (offset >= TESTDEV_ACCESS_COUNT && offset < TESTDEV_ACCESS_COUNT + 8)
        read_only_reg(count, offset - TESTDEV_ACCESS_COUNT, data, size);
    else if (offset >= TESTDEV_LAST_ACCESS && offset < TESTDEV_LAST_ACCESS + 8)
        read_only_reg(last, offset - TESTDEV_LAST_ACCESS, data, size);
    else if (offset >= TESTDEV_MAGIC_REG && offset < TESTDEV_MAGIC_REG + 8)
        read_only_reg(TESTDEV_MAGIC, offset - TESTDEV_MAGIC_REG, data, size);
}

void testdev_pio(void *dev, uint64_t offset, void *data, unsigned size, bool write)
{
    struct testdev *t = dev;
    uint8_t *b = data;

    if (offset == TESTDEV_PORT_COUNT - TESTDEV_PORT_FIFO) {
        if (write) {
            t->fifo_count = 0;
            t->fifo_head = 0;
        } else {
            uint32_t n = t->fifo_count;
            memcpy(data, &n, size < 4 ? size : 4);
        }
        return;
    }
    if (offset != 0)
        return;
    for (unsigned i = 0; i < size; i++) {
        if (write) {
            if (t->fifo_count < TESTDEV_FIFO_SIZE) {
                t->fifo[(t->fifo_head + t->fifo_count) % TESTDEV_FIFO_SIZE] = b[i];
                t->fifo_count++;
            }
        } else if (t->fifo_count) {
            b[i] = t->fifo[t->fifo_head];
            t->fifo_head = (t->fifo_head + 1) % TESTDEV_FIFO_SIZE;
            t->fifo_count--;
        }
    }
}
