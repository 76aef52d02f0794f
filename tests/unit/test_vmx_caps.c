/*
 * kernel/vmx/vmx_caps.c: decoding the VMX capability MSRs (SDM Vol. 3D,
 * Appendix A), computing control fields, and naming what is missing.
 *
 * The recorded MSR sets (Bochs corei7_skylake_x, a Core i7-9750H, KVM's
 * nested VMX on GCE) and where they come from are in vmx_msr_sets.h.
 */
#include "helpers.h"
#include <hv/vmx_caps.h>
#include "vmx_msr_sets.h"

static struct vmx_caps caps;

static void decode(const struct vmx_msrs *m)
{
    memset(&caps, 0xa5, sizeof(caps));         /* decode must set every field */
    vmx_caps_decode(m, &caps);
}

static void expect_missing(const char *needle)
{
    const char *what = vmx_caps_missing_feature(&caps);
    if (!what)
        fail_msg("expected a missing feature mentioning \"%s\", got none", needle);
    if (!strstr(what, needle))
        fail_msg("expected a missing feature mentioning \"%s\", got \"%s\"", needle, what);
}

/* ---- recorded values ----------------------------------------------------------- */

static void test_bochs_skylake_x(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    decode(&m);
    assert_int_equal(caps.revision_id, 0x2b);
    assert_int_equal(caps.region_size, 4096);
    assert_int_equal(caps.vmcs_memtype, 6);
    assert_false(caps.phys_addr_32bit);
    assert_true(caps.true_ctls);
    assert_true(caps.ins_outs_info);

    /* TRUE MSRs in effect: CR3-load/store exiting and debug controls may be 0. */
    assert_int_equal(caps.pin.must_be_1, 0x16);
    assert_int_equal(caps.pin.may_be_1, 0x7f);
    assert_int_equal(caps.proc.must_be_1, 0x04006172);
    assert_int_equal(caps.proc.may_be_1, 0xf7f9fffe);
    assert_int_equal(caps.proc2.must_be_1, 0);
    assert_int_equal(caps.proc2.may_be_1, 0x02177fff);
    assert_int_equal(caps.exit.must_be_1, 0x00036dfb);
    assert_int_equal(caps.exit.may_be_1, 0x007fffff);
    assert_int_equal(caps.entry.must_be_1, 0x000011fb);
    assert_int_equal(caps.entry.may_be_1, 0x0000ffff);

    assert_true(caps.ept);
    assert_true(caps.vpid);
    assert_true(caps.unrestricted_guest);
    assert_true(caps.preemption_timer);
    assert_int_equal(caps.preemption_timer_shift, 0);
    assert_true(caps.ept_walk4);
    assert_false(caps.ept_walk5);
    assert_true(caps.ept_wb);
    assert_true(caps.ept_uc);
    assert_true(caps.ept_2mb);
    assert_true(caps.ept_1gb);
    assert_true(caps.ept_ad);
    assert_true(caps.ept_execute_only);
    assert_true(caps.invept);
    assert_true(caps.invept_single);
    assert_true(caps.invept_all);
    assert_true(caps.invvpid);
    assert_true(caps.invvpid_single);
    assert_true(caps.invvpid_all);
    assert_true(caps.hlt_activity_state);
    assert_true(caps.io_bitmaps);
    assert_true(caps.msr_bitmaps);
    assert_true(caps.load_efer);
    assert_true(caps.save_efer);
    assert_true(caps.ack_interrupt_on_exit);
    assert_int_equal(caps.max_msr_list, 512);
    assert_null(vmx_caps_missing_feature(&caps));
}

static void test_intel_coffee_lake(void **state)
{
    (void)state;
    struct vmx_msrs m = intel_coffee_lake();
    decode(&m);
    assert_int_equal(caps.revision_id, 4);
    assert_int_equal(caps.region_size, 1024);
    assert_int_equal(caps.vmcs_memtype, 6);
    assert_false(caps.phys_addr_32bit);
    assert_true(caps.true_ctls);
    assert_true(caps.ins_outs_info);
    assert_int_equal(caps.proc.must_be_1, 0x04006172);
    assert_int_equal(caps.proc.may_be_1, 0xfff9fffe);
    assert_int_equal(caps.proc2.may_be_1, 0x005fbcff);
    assert_int_equal(caps.exit.must_be_1, 0x00036dfb);
    assert_int_equal(caps.exit.may_be_1, 0x01ffffff);
    assert_int_equal(caps.entry.must_be_1, 0x000011fb);
    assert_int_equal(caps.entry.may_be_1, 0x0003ffff);
    assert_true(caps.ept && caps.vpid && caps.unrestricted_guest);
    assert_true(caps.preemption_timer);
    assert_int_equal(caps.preemption_timer_shift, 7);       /* TSC >> 7 */
    assert_true(caps.ept_walk4);
    assert_false(caps.ept_walk5);
    assert_true(caps.ept_wb && caps.ept_uc && caps.ept_2mb && caps.ept_1gb && caps.ept_ad);
    assert_true(caps.ept_execute_only);
    assert_true(caps.invept && caps.invept_single && caps.invept_all);
    assert_true(caps.invvpid && caps.invvpid_single && caps.invvpid_all);
    assert_true(caps.hlt_activity_state);
    assert_true(caps.load_efer && caps.save_efer && caps.ack_interrupt_on_exit);
    assert_int_equal(caps.max_msr_list, 512);
    /* This CPU has no APIC-register virtualization (a client part). */
    assert_false(caps.proc2.may_be_1 & PROC2_APIC_REGISTER_VIRT);
    assert_null(vmx_caps_missing_feature(&caps));
}

static void test_kvm_nested(void **state)
{
    (void)state;
    struct vmx_msrs m = kvm_nested_gce();
    decode(&m);
    assert_int_equal(caps.revision_id, 0x11e57ed0);
    assert_int_equal(caps.region_size, 4096);
    assert_int_equal(caps.vmcs_memtype, 6);
    assert_true(caps.true_ctls);
    assert_true(caps.ins_outs_info);
    assert_int_equal(caps.pin.must_be_1, 0x16);
    assert_int_equal(caps.pin.may_be_1, 0x3f);
    assert_int_equal(caps.proc.must_be_1, 0x04006172);
    assert_int_equal(caps.proc.may_be_1, 0xf7b9fffe);
    assert_int_equal(caps.proc2.may_be_1, 0x000051ff);
    assert_int_equal(caps.exit.must_be_1, 0x00036dfb);
    assert_int_equal(caps.entry.must_be_1, 0x000011fb);
    assert_true(caps.ept && caps.vpid && caps.unrestricted_guest);
    /* GCE's L0 offers L1 no preemption timer (the rate field still reads 5),
     * no monitor trap flag and no NMI-window exiting. */
    assert_false(caps.preemption_timer);
    assert_int_equal(caps.preemption_timer_shift, 5);
    assert_false(caps.proc.may_be_1 & PROC_MONITOR_TRAP_FLAG);
    assert_false(caps.proc.may_be_1 & PROC_NMI_WINDOW_EXITING);
    assert_true(caps.proc2.may_be_1 & PROC2_VMCS_SHADOWING);
    assert_false(caps.proc2.may_be_1 & PROC2_ENABLE_VMFUNC);
    assert_true(caps.ept_walk4 && caps.ept_wb && caps.ept_2mb && caps.ept_1gb);
    assert_false(caps.ept_uc);              /* nested EPT offers write-back only */
    assert_false(caps.ept_ad);
    assert_false(caps.ept_walk5);
    assert_true(caps.ept_execute_only);
    assert_true(caps.invept && caps.invept_single && caps.invept_all);
    assert_true(caps.invvpid && caps.invvpid_single && caps.invvpid_all);
    assert_true(caps.hlt_activity_state);
    assert_false(caps.exit.may_be_1 & EXIT_LOAD_IA32_PERF_GLOBAL_CTRL);
    assert_true(caps.load_efer && caps.save_efer && caps.ack_interrupt_on_exit);
    assert_true(caps.io_bitmaps && caps.msr_bitmaps);
    assert_null(vmx_caps_missing_feature(&caps));

    /* Read without the TRUE MSRs, the default1 bits come back. */
    m.have_true = false;
    decode(&m);
    assert_int_equal(caps.proc.must_be_1, 0x0401e172);
    assert_int_equal(caps.exit.must_be_1, 0x00036dff);
    assert_int_equal(caps.proc.may_be_1, 0xf7b9fffe);
}

/* ---- TRUE controls only with IA32_VMX_BASIC[55] --------------------------------- */

static void test_true_ctls_honoured(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();

    /* The TRUE MSRs were not read: the default1 bits stay forced. */
    m.have_true = false;
    decode(&m);
    assert_false(caps.true_ctls);
    assert_int_equal(caps.pin.must_be_1, 0x16);
    assert_int_equal(caps.proc.must_be_1, 0x0401e172);
    assert_true(caps.proc.must_be_1 & PROC_CR3_LOAD_EXITING);
    assert_int_equal(caps.exit.must_be_1, 0x00036dff);
    assert_true(caps.exit.must_be_1 & EXIT_SAVE_DEBUG_CONTROLS);
    assert_int_equal(caps.entry.must_be_1, 0x000011ff);
    assert_int_equal(caps.proc.may_be_1, 0xf7f9fffe);

    /* Bit 55 clear: whatever the TRUE fields hold is ignored. */
    m = bochs_skylake_x();
    m.basic &= ~VMX_BASIC_TRUE_CTLS;
    m.true_pinbased = m.true_procbased = m.true_exit = m.true_entry = 0xdeadbeefdeadbeefULL;
    decode(&m);
    assert_false(caps.true_ctls);
    assert_int_equal(caps.pin.may_be_1, 0x7f);
    assert_int_equal(caps.proc.must_be_1, 0x0401e172);
    assert_int_equal(caps.exit.must_be_1, 0x00036dff);
    assert_int_equal(caps.entry.must_be_1, 0x000011ff);

    /* Bit 55 set and read: each of the four comes from its TRUE MSR. */
    m = bochs_skylake_x();
    m.true_pinbased = MSR(0x0000007f, 0x00000000);
    m.true_procbased = MSR(0xf7f9fffe, 0x00000000);
    m.true_exit = MSR(0x007fffff, 0x00000000);
    m.true_entry = MSR(0x0000ffff, 0x00000000);
    decode(&m);
    assert_true(caps.true_ctls);
    assert_int_equal(caps.pin.must_be_1, 0);
    assert_int_equal(caps.proc.must_be_1, 0);
    assert_int_equal(caps.exit.must_be_1, 0);
    assert_int_equal(caps.entry.must_be_1, 0);
}

/* ---- features depending on other MSRs -------------------------------------------- */

static void test_no_secondary_controls(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.true_procbased &= ~((uint64_t)PROC_ACTIVATE_SECONDARY_CONTROLS << 32);
    m.procbased &= ~((uint64_t)PROC_ACTIVATE_SECONDARY_CONTROLS << 32);
    decode(&m);
    /* IA32_VMX_PROCBASED_CTLS2 does not exist then, whatever was read. */
    assert_int_equal(caps.proc2.may_be_1, 0);
    assert_false(caps.ept || caps.vpid || caps.unrestricted_guest);
    assert_false(caps.ept_walk4 || caps.invept || caps.invvpid);
    expect_missing("secondary");

    m = bochs_skylake_x();
    m.have_procbased2 = false;
    decode(&m);
    assert_int_equal(caps.proc2.may_be_1, 0);
    assert_false(caps.ept);
    expect_missing("EPT");
}

static void test_no_ept(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.procbased2 &= ~((uint64_t)PROC2_ENABLE_EPT << 32);
    decode(&m);
    assert_false(caps.ept);
    /* EPT capability bits mean nothing without EPT; VPID is independent. */
    assert_false(caps.ept_walk4 || caps.ept_wb || caps.ept_2mb || caps.invept ||
                 caps.invept_single || caps.invept_all || caps.ept_ad);
    assert_true(caps.vpid);
    assert_true(caps.invvpid && caps.invvpid_single && caps.invvpid_all);
    expect_missing("EPT");

    /* EPT and unrestricted guest both absent: EPT is named first. */
    m.procbased2 &= ~((uint64_t)PROC2_UNRESTRICTED_GUEST << 32);
    decode(&m);
    expect_missing("EPT (");
}

static void test_no_vpid(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.procbased2 &= ~((uint64_t)PROC2_ENABLE_VPID << 32);
    decode(&m);
    assert_false(caps.vpid);
    assert_false(caps.invvpid || caps.invvpid_single || caps.invvpid_all);
    assert_true(caps.invept);
    assert_null(vmx_caps_missing_feature(&caps));         /* VPID is optional */
}

static void test_no_unrestricted_guest(void **state)
{
    (void)state;
    struct vmx_msrs m = intel_coffee_lake();
    m.procbased2 &= ~((uint64_t)PROC2_UNRESTRICTED_GUEST << 32);
    decode(&m);
    assert_true(caps.ept);
    assert_false(caps.unrestricted_guest);
    expect_missing("unrestricted guest");
}

static void test_no_ept_vpid_cap_msr(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.have_ept_vpid_cap = false;
    decode(&m);
    assert_true(caps.ept);
    assert_false(caps.ept_walk4 || caps.ept_wb || caps.invept || caps.invvpid);
    expect_missing("4-level");
}

static void test_ept_capability_bits(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();

    m.ept_vpid_cap &= ~EPT_CAP_WALK_4;
    m.ept_vpid_cap |= EPT_CAP_WALK_5;
    decode(&m);
    assert_false(caps.ept_walk4);
    assert_true(caps.ept_walk5);
    expect_missing("4-level");

    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~EPT_CAP_MEMTYPE_WB;
    decode(&m);
    assert_false(caps.ept_wb);
    assert_true(caps.ept_uc);
    expect_missing("write-back");

    /* Single/all-context bits count only with the INVEPT bit itself. */
    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~EPT_CAP_INVEPT;
    decode(&m);
    assert_false(caps.invept || caps.invept_single || caps.invept_all);
    expect_missing("INVEPT");

    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~(EPT_CAP_INVEPT_SINGLE_CONTEXT | EPT_CAP_INVEPT_ALL_CONTEXT);
    decode(&m);
    assert_true(caps.invept);
    assert_false(caps.invept_single || caps.invept_all);
    expect_missing("INVEPT");

    /* Either INVEPT kind is enough. */
    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~EPT_CAP_INVEPT_SINGLE_CONTEXT;
    decode(&m);
    assert_false(caps.invept_single);
    assert_true(caps.invept_all);
    assert_null(vmx_caps_missing_feature(&caps));
    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~EPT_CAP_INVEPT_ALL_CONTEXT;
    decode(&m);
    assert_true(caps.invept_single);
    assert_false(caps.invept_all);
    assert_null(vmx_caps_missing_feature(&caps));

    /* INVVPID kinds likewise need the INVVPID bit. */
    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~VPID_CAP_INVVPID;
    decode(&m);
    assert_false(caps.invvpid || caps.invvpid_single || caps.invvpid_all);
    m = bochs_skylake_x();
    m.ept_vpid_cap &= ~VPID_CAP_INVVPID_ALL_CONTEXT;
    decode(&m);
    assert_true(caps.invvpid_single);
    assert_false(caps.invvpid_all);

    /* Each remaining EPT bit maps to its own field. */
    m = bochs_skylake_x();
    m.ept_vpid_cap = EPT_CAP_INVEPT | EPT_CAP_PDE_2MB;
    decode(&m);
    assert_true(caps.ept_2mb);
    assert_false(caps.ept_1gb || caps.ept_ad || caps.ept_uc || caps.ept_execute_only);
    m.ept_vpid_cap = EPT_CAP_PDPTE_1GB | EPT_CAP_ACCESSED_DIRTY | EPT_CAP_EXECUTE_ONLY;
    decode(&m);
    assert_false(caps.ept_2mb || caps.invept);
    assert_true(caps.ept_1gb && caps.ept_ad && caps.ept_execute_only);
}

static void test_misc_fields(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    for (unsigned shift = 0; shift < 32; shift++) {
        m.misc = (0x600401e0 & ~0x1fULL) | shift;
        decode(&m);
        assert_int_equal(caps.preemption_timer_shift, shift);
    }
    for (unsigned n = 0; n < 8; n++) {
        m.misc = 0x600401e0 | ((uint64_t)n << 25);
        decode(&m);
        assert_int_equal(caps.max_msr_list, 512 * (n + 1));
    }
    m.misc = 0x600401e0 & ~VMX_MISC_ACTIVITY_HLT;
    decode(&m);
    assert_false(caps.hlt_activity_state);
    /* No preemption timer control: the shift is still reported. */
    m = bochs_skylake_x();
    m.true_pinbased &= ~((uint64_t)PIN_VMX_PREEMPTION_TIMER << 32);
    decode(&m);
    assert_false(caps.preemption_timer);
}

static void test_entry_exit_features(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.true_entry &= ~((uint64_t)ENTRY_LOAD_IA32_EFER << 32);
    decode(&m);
    assert_false(caps.load_efer);                  /* needs both entry and exit */
    assert_true(caps.save_efer);
    m = bochs_skylake_x();
    m.true_exit &= ~((uint64_t)(EXIT_LOAD_IA32_EFER | EXIT_SAVE_IA32_EFER |
                                EXIT_ACK_INTERRUPT_ON_EXIT) << 32);
    decode(&m);
    assert_false(caps.load_efer || caps.save_efer || caps.ack_interrupt_on_exit);
}

/* ---- what the hypervisor needs ------------------------------------------------- */

static void test_missing_basics(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.basic &= ~(0x1fffULL << 32);                             /* region size 0 */
    decode(&m);
    expect_missing("region size");
    m.basic |= (uint64_t)0x1001 << 32;                          /* 4097 bytes */
    decode(&m);
    assert_int_equal(caps.region_size, 4097);
    expect_missing("region size");
    m = bochs_skylake_x();
    m.basic |= VMX_BASIC_32BIT_ADDR;
    decode(&m);
    assert_true(caps.phys_addr_32bit);
    expect_missing("32-bit");
    m = bochs_skylake_x();
    m.basic &= ~(0xfULL << 50);                                 /* uncacheable */
    decode(&m);
    assert_int_equal(caps.vmcs_memtype, 0);
    expect_missing("memory type");
}

static void test_missing_controls(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    m.true_procbased &= ~((uint64_t)PROC_USE_IO_BITMAPS << 32);
    decode(&m);
    assert_false(caps.io_bitmaps);
    expect_missing("I/O bitmaps");
    m = bochs_skylake_x();
    m.true_procbased &= ~((uint64_t)PROC_USE_MSR_BITMAPS << 32);
    decode(&m);
    assert_false(caps.msr_bitmaps);
    expect_missing("MSR bitmaps");
    m = bochs_skylake_x();
    m.true_exit &= ~((uint64_t)EXIT_HOST_ADDRESS_SPACE_SIZE << 32);
    decode(&m);
    expect_missing("64-bit host");
    /* A 32-bit-only CPU (everything else zero) fails on the first check. */
    struct vmx_msrs empty = { 0 };
    decode(&empty);
    expect_missing("region size");
}

/* ---- vmx_ctl_compute ------------------------------------------------------------- */

static void test_ctl_compute_examples(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();
    decode(&m);
    uint32_t value = 0xdeadbeef, missing = 0xdeadbeef;

    /* Pin-based: posted interrupts (not allowed) is dropped from `wanted`. */
    assert_int_equal(vmx_ctl_compute(&caps.pin, PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING,
                                     PIN_VIRTUAL_NMIS | PIN_VMX_PREEMPTION_TIMER |
                                     PIN_POSTED_INTERRUPTS, &value, &missing), 0);
    assert_int_equal(value, 0x7f);
    assert_int_equal(missing, 0);

    /* Forced-1 bits are set even when nothing is asked for. */
    assert_int_equal(vmx_ctl_compute(&caps.proc, 0, 0, &value, &missing), 0);
    assert_int_equal(value, 0x04006172);
    assert_false(value & PROC_CR3_LOAD_EXITING);
    /* Without TRUE controls, CR3-load/store exiting are forced. */
    struct vmx_msrs nt = bochs_skylake_x();
    nt.have_true = false;
    struct vmx_caps c2;
    vmx_caps_decode(&nt, &c2);
    assert_int_equal(vmx_ctl_compute(&c2.proc, 0, 0, &value, &missing), 0);
    assert_true(value & PROC_CR3_LOAD_EXITING);
    assert_true(value & PROC_CR3_STORE_EXITING);

    /* Secondary: a required control Bochs lacks (bit 19, conceal VMX from PT). */
    uint32_t required = PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST | BIT(19);
    assert_int_equal(vmx_ctl_compute(&caps.proc2, required, PROC2_ENABLE_VPID, &value, &missing), -1);
    assert_int_equal(missing, BIT(19));
    assert_int_equal(value, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST | PROC2_ENABLE_VPID);

    /* The real CPU has no APIC-register virtualization: wanted -> dropped,
     * required -> reported. */
    m = intel_coffee_lake();
    decode(&m);
    assert_int_equal(vmx_ctl_compute(&caps.proc2, PROC2_ENABLE_EPT, PROC2_APIC_REGISTER_VIRT,
                                     &value, &missing), 0);
    assert_int_equal(value, PROC2_ENABLE_EPT);
    assert_int_equal(missing, 0);
    assert_int_equal(vmx_ctl_compute(&caps.proc2, PROC2_APIC_REGISTER_VIRT |
                                     PROC2_VIRTUAL_INTERRUPT_DELIVERY | PROC2_ENABLE_EPT, 0,
                                     &value, &missing), -1);
    assert_int_equal(missing, PROC2_APIC_REGISTER_VIRT | PROC2_VIRTUAL_INTERRUPT_DELIVERY);

    /* Exit controls for a 64-bit host on KVM: no IA32_PERF_GLOBAL_CTRL load. */
    m = kvm_nested_gce();
    decode(&m);
    assert_int_equal(vmx_ctl_compute(&caps.exit, EXIT_HOST_ADDRESS_SPACE_SIZE,
                                     EXIT_LOAD_IA32_EFER | EXIT_LOAD_IA32_PERF_GLOBAL_CTRL,
                                     &value, &missing), 0);
    assert_int_equal(value, 0x00036dfb | EXIT_HOST_ADDRESS_SPACE_SIZE | EXIT_LOAD_IA32_EFER);
}

/* The contract on random capabilities: forced bits always set, nothing set
 * that may not be, all allowed requested bits set, `missing` exact. */
static void test_ctl_compute_properties(void **state)
{
    (void)state;
    uint64_t seed = 283;
    for (int i = 0; i < 100000; i++) {
        struct vmx_ctl_caps c;
        c.may_be_1 = (uint32_t)rng_next(&seed);
        c.must_be_1 = (uint32_t)rng_next(&seed) & (uint32_t)rng_next(&seed) & c.may_be_1;
        uint32_t req = (uint32_t)rng_next(&seed) & (uint32_t)rng_next(&seed);
        uint32_t want = (uint32_t)rng_next(&seed);
        uint32_t value, missing;
        int rc = vmx_ctl_compute(&c, req, want, &value, &missing);
        assert_int_equal(missing, req & ~c.may_be_1);
        assert_int_equal(rc, missing ? -1 : 0);
        assert_int_equal(value & c.must_be_1, c.must_be_1);
        assert_int_equal(value & ~c.may_be_1, 0);
        assert_int_equal(value & (req | want) & c.may_be_1, (req | want) & c.may_be_1);
        assert_int_equal(value, c.must_be_1 | ((req | want) & c.may_be_1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bochs_skylake_x),
        cmocka_unit_test(test_intel_coffee_lake),
        cmocka_unit_test(test_kvm_nested),
        cmocka_unit_test(test_true_ctls_honoured),
        cmocka_unit_test(test_no_secondary_controls),
        cmocka_unit_test(test_no_ept),
        cmocka_unit_test(test_no_vpid),
        cmocka_unit_test(test_no_unrestricted_guest),
        cmocka_unit_test(test_no_ept_vpid_cap_msr),
        cmocka_unit_test(test_ept_capability_bits),
        cmocka_unit_test(test_misc_fields),
        cmocka_unit_test(test_entry_exit_features),
        cmocka_unit_test(test_missing_basics),
        cmocka_unit_test(test_missing_controls),
        cmocka_unit_test(test_ctl_compute_examples),
        cmocka_unit_test(test_ctl_compute_properties),
    };
    return cmocka_run_group_tests_name("vmx_caps", tests, NULL, NULL);
}
