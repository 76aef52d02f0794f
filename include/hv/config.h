/* Kernel options from the GRUB command line (kernel/config.c, docs in README.md). */
#ifndef HV_CONFIG_H
#define HV_CONFIG_H

#include <hv/types.h>

enum test_scenario {
    TEST_NONE,          /* normal run: report, then idle */
    TEST_BOOT,          /* report, verdict, power off */
    TEST_EXCEPTION_BSP, /* the BSP takes #UD: register dump, FAIL verdict, power off */
    TEST_EXCEPTION_AP,  /* the last AP takes #PF: it halts, the BSP reports and goes on */
    TEST_TIMER,         /* every core counts LAPIC timer ticks for 100 ms */
    TEST_SCENARIO_COUNT
};

struct kernel_config {
    int loglevel;           /* enum log_level */
    int test;               /* enum test_scenario */
    uint64_t maxcpus;       /* 0 = all */
    uint64_t modules;       /* modules the configuration gives (0 = unchecked) */
    bool modules_set;
    bool poweroff;          /* power off at the end instead of idling */
    bool verbose;           /* print the full capability MSR detail for every core */
    bool acpidump;
    char input_vm[32];      /* VM whose COM1 receives host console input */          /* hex-dump the MADT and FADT (for test fixtures, bug reports) */
};

extern struct kernel_config config;
extern const char *const test_scenario_names[];

/* Returns the number of problems found (each one is logged as an error). */
int config_parse(const char *cmdline);

#endif
