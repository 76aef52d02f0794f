/*
 * A GDT for 32-bit test guests that need segments with a non-zero base
 * (segment-override and 16-bit address-size tests): the SDK's flat code
 * (0x08) and data (0x10) descriptors, unchanged, plus GDT32_EXTRA data
 * segments whose base the guest sets at run time.
 */
#ifndef TESTLIB_GDT32_H
#define TESTLIB_GDT32_H

#include <stdint.h>

#define GDT32_SEL_CODE      0x08
#define GDT32_SEL_DATA      0x10
#define GDT32_EXTRA         3
#define GDT32_SEL_EXTRA(n)  (0x18 + 8 * (n))    /* n < GDT32_EXTRA */

/* Loads the GDT and reloads every segment register (all flat). */
void gdt32_install(void);

/*
 * Sets the base of an extra data segment (read/write, 4 GiB limit, so that
 * offsets wrap modulo 2^32).  Takes effect when a segment register is next
 * loaded with the selector.
 */
void gdt32_set_base(unsigned selector, uint32_t base);

#endif
