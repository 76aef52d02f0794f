/*
 * Page tables for 32-bit test guests: 32-bit paging with 4 KiB pages, and
 * PAE paging with 2 MiB pages.  Both identity-map the first
 * PAGING32_IDENTITY_BYTES (the guest's image, stack and page tables live
 * there, so the code keeps running when paging goes on), and let the guest
 * add its own mappings.  Only one of the two is active at a time; all
 * addresses are physical = linear below PAGING32_IDENTITY_BYTES.
 */
#ifndef TESTLIB_PAGING32_H
#define TESTLIB_PAGING32_H

#include <stdbool.h>
#include <stdint.h>

#define PAGE_SIZE_4K            0x1000u
#define PAGE_SIZE_2M            0x200000u
#define PAGING32_IDENTITY_BYTES 0x1000000u  /* 16 MiB */

#define PTE_P       (1u << 0)
#define PTE_RW      (1u << 1)
#define PTE_PWT     (1u << 3)
#define PTE_PCD     (1u << 4)
#define PTE_PS      (1u << 7)           /* in a PAE page directory entry: 2 MiB page */
#define PTE_UNCACHED (PTE_PCD | PTE_PWT) /* for device mappings */

/* 32-bit paging, 4 KiB pages.  Builds the identity map on first use. */
void paging32_reset(void);
/* Maps one 4 KiB page (flags: PTE_*; without PTE_P the entry holds the
 * address but is not present).  Returns false when out of page tables. */
bool paging32_map_4k(uint32_t linear, uint32_t phys, uint32_t flags);
/* Changes the flags of a page mapped before; flushes its TLB entry. */
void paging32_set_flags_4k(uint32_t linear, uint32_t flags);
void paging32_enable(void);

/* PAE paging, 2 MiB pages. */
void pae_reset(void);
/* Maps one 2 MiB page below 4 GiB of linear space (both addresses 2 MiB aligned). */
void pae_map_2m(uint32_t linear, uint64_t phys, uint32_t flags);
void pae_enable(void);

/* Paging off again (and CR4.PAE clear): linear = physical. */
void paging_disable(void);

static inline void invlpg(uint32_t linear)
{
    __asm__ volatile("invlpg (%0)" : : "r"(linear) : "memory");
}

#endif
