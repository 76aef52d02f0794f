/* Page tables of 32-bit test guests (see paging32.h). */
#include <guest/guest.h>

#include "paging32.h"

#define CR0_PG              (1u << 31)
#define CR4_PAE             (1u << 5)
#define PT32_ENTRIES        1024
#define IDENTITY_TABLES     (PAGING32_IDENTITY_BYTES / (PT32_ENTRIES * PAGE_SIZE_4K))
#define EXTRA_TABLES        4       /* for the guests' own mappings */
#define PAE_ENTRIES         512
#define PAE_PDPT_ENTRIES    4

_Static_assert(PAGING32_IDENTITY_BYTES % (PT32_ENTRIES * PAGE_SIZE_4K) == 0, "whole tables");

/* 32-bit paging: one page directory, tables from a fixed pool. */
static uint32_t pd32[PT32_ENTRIES] __attribute__((aligned(PAGE_SIZE_4K)));
static uint32_t pt32_pool[IDENTITY_TABLES + EXTRA_TABLES][PT32_ENTRIES]
    __attribute__((aligned(PAGE_SIZE_4K)));
static unsigned pt32_used;

/* PAE: the PDPT must be 32-byte aligned; one page directory per GiB. */
static uint64_t pae_pdpt[PAE_PDPT_ENTRIES] __attribute__((aligned(32)));
static uint64_t pae_pd[PAE_PDPT_ENTRIES][PAE_ENTRIES] __attribute__((aligned(PAGE_SIZE_4K)));

static uint32_t *pt32_for(uint32_t linear, bool create)
{
    uint32_t *pde = &pd32[linear >> 22];

    if (!(*pde & PTE_P)) {
        if (!create || pt32_used == ARRAY_SIZE(pt32_pool))
            return NULL;
        uint32_t *pt = pt32_pool[pt32_used++];

        memset(pt, 0, PAGE_SIZE_4K);
        *pde = (uint32_t)(uintptr_t)pt | PTE_P | PTE_RW;
    }
    return (uint32_t *)(uintptr_t)(*pde & ~(PAGE_SIZE_4K - 1));
}

void paging32_reset(void)
{
    memset(pd32, 0, sizeof(pd32));
    pt32_used = 0;
    for (uint32_t a = 0; a < PAGING32_IDENTITY_BYTES; a += PAGE_SIZE_4K)
        paging32_map_4k(a, a, PTE_P | PTE_RW);
}

bool paging32_map_4k(uint32_t linear, uint32_t phys, uint32_t flags)
{
    uint32_t *pt = pt32_for(linear, true);

    if (!pt)
        return false;
    pt[(linear >> 12) & (PT32_ENTRIES - 1)] = (phys & ~(PAGE_SIZE_4K - 1)) | flags;
    return true;
}

void paging32_set_flags_4k(uint32_t linear, uint32_t flags)
{
    uint32_t *pt = pt32_for(linear, false);

    if (!pt)
        return;
    uint32_t *pte = &pt[(linear >> 12) & (PT32_ENTRIES - 1)];

    *pte = (*pte & ~(PAGE_SIZE_4K - 1)) | flags;
    invlpg(linear);
}

/* Paging on: the branch after the CR0 write is what the SDM asks for. */
static void enable_pg(void)
{
    uint32_t cr0;

    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0\n\t"
                     "jmp 1f\n"
                     "1:"
                     : : "r"(cr0 | CR0_PG) : "memory");
}

void paging32_enable(void)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)(uintptr_t)pd32) : "memory");
    enable_pg();
}

void pae_reset(void)
{
    memset(pae_pd, 0, sizeof(pae_pd));
    /* PDPTEs have no R/W bit (bits 1-2 are reserved in PAE mode). */
    for (unsigned i = 0; i < PAE_PDPT_ENTRIES; i++)
        pae_pdpt[i] = (uint32_t)(uintptr_t)pae_pd[i] | PTE_P;
    for (uint32_t a = 0; a < PAGING32_IDENTITY_BYTES; a += PAGE_SIZE_2M)
        pae_map_2m(a, a, PTE_P | PTE_RW);
}

void pae_map_2m(uint32_t linear, uint64_t phys, uint32_t flags)
{
    pae_pd[linear >> 30][(linear >> 21) & (PAE_ENTRIES - 1)] =
        (phys & ~(uint64_t)(PAGE_SIZE_2M - 1)) | flags | PTE_PS;
}

void pae_enable(void)
{
    uint32_t cr4;

    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PAE) : "memory");
    /* In PAE mode CR3 holds the PDPT; the CPU loads the four PDPTEs when
     * paging goes on. */
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)(uintptr_t)pae_pdpt) : "memory");
    enable_pg();
}

void paging_disable(void)
{
    uint32_t cr0, cr4;

    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0\n\t"
                     "jmp 1f\n"
                     "1:"
                     : : "r"(cr0 & ~CR0_PG) : "memory");
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 & ~CR4_PAE) : "memory");
}
