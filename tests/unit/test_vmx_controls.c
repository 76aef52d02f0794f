/*
 * kernel/vmx/vmx_caps.c: vmx_compute_controls(), the five VMX control fields
 * (pin-based, primary and secondary processor-based, VM-exit, VM-entry) the
 * hypervisor runs its guests with, computed from the capability MSRs.
 *
 * Inputs are the MSR sets recorded on Bochs (corei7_skylake_x), a real
 * Core i7-9750H and KVM's nested VMX on GCE (vmx_msr_sets.h), decoded with
 * vmx_caps_decode(), then variants of them with controls taken away.  The
 * expectations follow SDM Vol. 3D, Appendix A.3 - A.5: a control whose
 * allowed-0 bit is 1 must be 1, one whose allowed-1 bit is 0 must be 0, and
 * with IA32_VMX_BASIC[55] the TRUE MSRs give the allowed-0 settings.
 */
#include "helpers.h"
#include <hv/vmx_caps.h>
#include "vmx_msr_sets.h"

enum field { F_PIN, F_PROC, F_PROC2, F_EXIT, F_ENTRY, F_COUNT };

static const char *const field_names[F_COUNT] = {
    "pin-based", "primary processor-based", "secondary processor-based", "VM-exit", "VM-entry",
};
static const char *const true_msr_names[F_COUNT] = {
    "IA32_VMX_TRUE_PINBASED_CTLS", "IA32_VMX_TRUE_PROCBASED_CTLS", "IA32_VMX_PROCBASED_CTLS2",
    "IA32_VMX_TRUE_EXIT_CTLS", "IA32_VMX_TRUE_ENTRY_CTLS",
};
static const char *const msr_names[F_COUNT] = {
    "IA32_VMX_PINBASED_CTLS", "IA32_VMX_PROCBASED_CTLS", "IA32_VMX_PROCBASED_CTLS2",
    "IA32_VMX_EXIT_CTLS", "IA32_VMX_ENTRY_CTLS",
};

/* The controls the hypervisor cannot run without (include/hv/vmx_caps.h),
 * with their SDM names; "IA-32e mode guest" only for a 64-bit guest. */
struct required_ctl {
    enum field field;
    uint32_t bit;
    const char *name;
};

static const struct required_ctl required[] = {
    { F_PIN, PIN_EXTERNAL_INTERRUPT_EXITING, "external-interrupt exiting" },
    { F_PIN, PIN_NMI_EXITING, "NMI exiting" },
    { F_PROC, PROC_HLT_EXITING, "HLT exiting" },
    { F_PROC, PROC_USE_IO_BITMAPS, "use I/O bitmaps" },
    { F_PROC, PROC_USE_MSR_BITMAPS, "use MSR bitmaps" },
    { F_PROC, PROC_ACTIVATE_SECONDARY_CONTROLS, "activate secondary controls" },
    { F_PROC2, PROC2_ENABLE_EPT, "enable EPT" },
    { F_PROC2, PROC2_UNRESTRICTED_GUEST, "unrestricted guest" },
    { F_EXIT, EXIT_HOST_ADDRESS_SPACE_SIZE, "host address-space size" },
    { F_EXIT, EXIT_ACK_INTERRUPT_ON_EXIT, "acknowledge interrupt on exit" },
    { F_EXIT, EXIT_SAVE_IA32_EFER, "save IA32_EFER" },
    { F_EXIT, EXIT_LOAD_IA32_EFER, "load IA32_EFER" },
    { F_ENTRY, ENTRY_LOAD_IA32_EFER, "load IA32_EFER" },
};
static const struct required_ctl ia32e_mode_guest = { F_ENTRY, ENTRY_IA32E_MODE_GUEST,
                                                      "IA-32e mode guest" };

struct msr_set {
    const char *name;
    struct vmx_msrs (*get)(void);
};

static const struct msr_set sets[] = {
    { "Bochs corei7_skylake_x", bochs_skylake_x },
    { "Core i7-9750H", intel_coffee_lake },
    { "KVM nested (GCE)", kvm_nested_gce },
};

/* ---- helpers ------------------------------------------------------------------- */

static uint32_t field_value(const struct vmx_controls *c, enum field f)
{
    switch (f) {
    case F_PIN:   return c->pin;
    case F_PROC:  return c->proc;
    case F_PROC2: return c->proc2;
    case F_EXIT:  return c->exit;
    case F_ENTRY: return c->entry;
    default:      fail_msg("bad field %d", f);
    }
    return 0;
}

static const struct vmx_ctl_caps *field_caps(const struct vmx_caps *c, enum field f)
{
    switch (f) {
    case F_PIN:   return &c->pin;
    case F_PROC:  return &c->proc;
    case F_PROC2: return &c->proc2;
    case F_EXIT:  return &c->exit;
    case F_ENTRY: return &c->entry;
    default:      fail_msg("bad field %d", f);
    }
    return NULL;
}

/* The raw MSR(s) a field is decoded from: the plain one and, except for the
 * secondary controls, the TRUE one. */
static void field_msrs(struct vmx_msrs *m, enum field f, uint64_t **plain, uint64_t **true_msr)
{
    switch (f) {
    case F_PIN:   *plain = &m->pinbased;   *true_msr = &m->true_pinbased;  break;
    case F_PROC:  *plain = &m->procbased;  *true_msr = &m->true_procbased; break;
    case F_PROC2: *plain = &m->procbased2; *true_msr = NULL;               break;
    case F_EXIT:  *plain = &m->exit;       *true_msr = &m->true_exit;      break;
    case F_ENTRY: *plain = &m->entry;      *true_msr = &m->true_entry;     break;
    default:      fail_msg("bad field %d", f);
    }
}

/* Makes controls `bits` of field `f` unavailable, as a CPU without them would
 * report it: allowed-1 clear in every MSR of the field (and allowed-0 too, so
 * that the MSR stays consistent). */
static void take_away(struct vmx_msrs *m, enum field f, uint32_t bits)
{
    uint64_t *plain, *true_msr;
    field_msrs(m, f, &plain, &true_msr);
    uint64_t mask = ((uint64_t)bits << 32) | bits;
    *plain &= ~mask;
    if (true_msr)
        *true_msr &= ~mask;
}

static struct vmx_caps caps;
static struct vmx_controls out;
static struct vmx_ctl_failure fail;

static int compute(const struct vmx_msrs *m, bool long_mode)
{
    vmx_caps_decode(m, &caps);
    memset(&out, 0xa5, sizeof(out));
    memset(&fail, 0, sizeof(fail));
    return vmx_compute_controls(&caps, long_mode, &out, &fail);
}

static void expect_ok(const struct vmx_msrs *m, bool long_mode, const char *what)
{
    if (compute(m, long_mode))
        fail_msg("%s (long mode %d): refused: %s control \"%s\" missing (%s)", what, long_mode,
                 fail.field ? fail.field : "?", fail.control ? fail.control : "?",
                 fail.msr ? fail.msr : "?");
}

/* Every property a successful result must have, whatever the capabilities. */
static void check_controls(const char *what, bool long_mode)
{
    for (int f = 0; f < F_COUNT; f++) {
        uint32_t v = field_value(&out, f);
        const struct vmx_ctl_caps *c = field_caps(&caps, f);
        if ((v & c->must_be_1) != c->must_be_1)
            fail_msg("%s: %s controls %#x lack forced-1 bits %#x", what, field_names[f], v,
                     c->must_be_1 & ~v);
        if (v & ~c->may_be_1)
            fail_msg("%s: %s controls %#x set bits %#x outside allowed-1 %#x", what,
                     field_names[f], v, v & ~c->may_be_1, c->may_be_1);
    }
    for (size_t i = 0; i < ARRAY_SIZE(required); i++)
        if (!(field_value(&out, required[i].field) & required[i].bit))
            fail_msg("%s: required control \"%s\" is not set", what, required[i].name);

    /* IA-32e mode guest exactly for a 64-bit guest. */
    assert_int_equal(!!(out.entry & ENTRY_IA32E_MODE_GUEST), long_mode);

    /* Optional controls: used exactly when offered. */
    assert_int_equal(!!(out.proc2 & PROC2_ENABLE_VPID), caps.vpid);
    assert_int_equal(!!(out.pin & PIN_VMX_PREEMPTION_TIMER), caps.preemption_timer);
    if (!(out.pin & PIN_VMX_PREEMPTION_TIMER) &&
        !(caps.exit.must_be_1 & EXIT_SAVE_VMX_PREEMPTION_TIMER))
        assert_false(out.exit & EXIT_SAVE_VMX_PREEMPTION_TIMER);

    /* No CR3 exits unless the CPU forces them: EPT makes guest CR3 harmless. */
    assert_int_equal(!!(out.proc & PROC_CR3_LOAD_EXITING),
                     !!(caps.proc.must_be_1 & PROC_CR3_LOAD_EXITING));
    assert_int_equal(!!(out.proc & PROC_CR3_STORE_EXITING),
                     !!(caps.proc.must_be_1 & PROC_CR3_STORE_EXITING));
}

/* The refusal of a required control, checked field by field. */
static void expect_refused(const struct vmx_msrs *m, bool long_mode, enum field f,
                           uint32_t missing, const char *control, const char *what)
{
    int rc = compute(m, long_mode);
    if (rc != -1)
        fail_msg("%s: expected -1 (\"%s\" missing), got %d", what, control, rc);
    assert_non_null(fail.field);
    assert_non_null(fail.msr);
    assert_non_null(fail.control);
    if (strcmp(fail.field, field_names[f]))
        fail_msg("%s: fail.field is \"%s\", expected \"%s\"", what, fail.field, field_names[f]);
    const char *msr = caps.true_ctls && f != F_PROC2 ? true_msr_names[f] : msr_names[f];
    if (strcmp(fail.msr, msr))
        fail_msg("%s: fail.msr is \"%s\", expected \"%s\"", what, fail.msr, msr);
    if (strcmp(fail.control, control))
        fail_msg("%s: fail.control is \"%s\", expected \"%s\"", what, fail.control, control);
    assert_int_equal(fail.missing, missing);
    assert_int_equal(fail.may_be_1, field_caps(&caps, f)->may_be_1);
}

/* ---- the recorded sets ------------------------------------------------------------ */

static void test_recorded_sets(void **state)
{
    (void)state;
    char what[128];
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++)
        for (int lm = 0; lm < 2; lm++) {
            struct vmx_msrs m = sets[s].get();
            snprintf(what, sizeof(what), "%s, long mode %d", sets[s].name, lm);
            expect_ok(&m, lm, what);
            assert_true(caps.true_ctls);
            check_controls(what, lm);

            /* The same CPU read without the TRUE MSRs. */
            m.have_true = false;
            snprintf(what, sizeof(what), "%s without TRUE MSRs, long mode %d", sets[s].name, lm);
            expect_ok(&m, lm, what);
            assert_false(caps.true_ctls);
            check_controls(what, lm);
            /* The default1 CR3-load/store exiting bits are forced then. */
            assert_true(out.proc & PROC_CR3_LOAD_EXITING);
            assert_true(out.proc & PROC_CR3_STORE_EXITING);
        }
}

static void test_optional_controls_per_set(void **state)
{
    (void)state;
    struct vmx_msrs m;

    /* All three offer VPID; only Bochs and the real CPU offer the timer
     * (GCE's L0 gives L1 none). */
    m = bochs_skylake_x();
    expect_ok(&m, true, "Bochs");
    assert_true(out.proc2 & PROC2_ENABLE_VPID);
    assert_true(out.pin & PIN_VMX_PREEMPTION_TIMER);
    m = intel_coffee_lake();
    expect_ok(&m, true, "Core i7-9750H");
    assert_true(out.proc2 & PROC2_ENABLE_VPID);
    assert_true(out.pin & PIN_VMX_PREEMPTION_TIMER);
    m = kvm_nested_gce();
    expect_ok(&m, true, "KVM nested");
    assert_true(out.proc2 & PROC2_ENABLE_VPID);
    assert_false(out.pin & PIN_VMX_PREEMPTION_TIMER);
    assert_false(out.exit & EXIT_SAVE_VMX_PREEMPTION_TIMER);
}

/* Bochs: TRUE procbased allowed-0 = 0x04006172, so CR3-load/store exiting
 * (bits 15 and 16, default1) may be 0 -- and the hypervisor wants them 0. */
static void test_true_msrs_honoured(void **state)
{
    (void)state;
    struct vmx_msrs m = bochs_skylake_x();

    for (int lm = 0; lm < 2; lm++) {
        m = bochs_skylake_x();
        expect_ok(&m, lm, "Bochs");
        assert_int_equal(caps.proc.must_be_1, 0x04006172);
        assert_false(out.proc & PROC_CR3_LOAD_EXITING);
        assert_false(out.proc & PROC_CR3_STORE_EXITING);
        assert_int_equal(out.proc & 0x04006172, 0x04006172);

        /* IA32_VMX_BASIC[55] clear: the TRUE MSRs do not count, whatever
         * they hold, and the plain allowed-0 bits 0x0401e172 are forced. */
        m = bochs_skylake_x();
        m.basic &= ~VMX_BASIC_TRUE_CTLS;
        m.true_procbased = MSR(0xf7f9fffe, 0);
        m.true_pinbased = m.true_exit = m.true_entry = 0;
        expect_ok(&m, lm, "Bochs without bit 55");
        assert_false(caps.true_ctls);
        assert_int_equal(out.proc & 0x0401e172, 0x0401e172);
        assert_true(out.proc & PROC_CR3_LOAD_EXITING);
        assert_true(out.proc & PROC_CR3_STORE_EXITING);
        check_controls("Bochs without bit 55", lm);
    }

    /* TRUE MSRs that force nothing at all: only what is asked for is set. */
    m = bochs_skylake_x();
    m.true_pinbased = MSR(0x0000007f, 0);
    m.true_procbased = MSR(0xf7f9fffe, 0);
    m.true_exit = MSR(0x007fffff, 0);
    m.true_entry = MSR(0x0000ffff, 0);
    expect_ok(&m, false, "Bochs, TRUE allowed-0 all 0");
    check_controls("Bochs, TRUE allowed-0 all 0", false);
    assert_false(out.proc & (PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING));
    assert_false(out.entry & ENTRY_IA32E_MODE_GUEST);
}

static void test_vpid_and_timer_when_offered(void **state)
{
    (void)state;
    struct vmx_msrs m;

    for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
        /* No VPID: still fine, just without it. */
        m = sets[s].get();
        take_away(&m, F_PROC2, PROC2_ENABLE_VPID);
        expect_ok(&m, true, sets[s].name);
        assert_false(caps.vpid);
        assert_false(out.proc2 & PROC2_ENABLE_VPID);
        check_controls(sets[s].name, true);

        /* No preemption timer: neither it nor saving its value. */
        m = sets[s].get();
        take_away(&m, F_PIN, PIN_VMX_PREEMPTION_TIMER);
        expect_ok(&m, false, sets[s].name);
        assert_false(out.pin & PIN_VMX_PREEMPTION_TIMER);
        assert_false(out.exit & EXIT_SAVE_VMX_PREEMPTION_TIMER);
        check_controls(sets[s].name, false);
    }

    /* The timer without "save VMX-preemption timer value". */
    m = bochs_skylake_x();
    take_away(&m, F_EXIT, EXIT_SAVE_VMX_PREEMPTION_TIMER);
    expect_ok(&m, true, "Bochs without timer save");
    assert_true(out.pin & PIN_VMX_PREEMPTION_TIMER);
    assert_false(out.exit & EXIT_SAVE_VMX_PREEMPTION_TIMER);
    check_controls("Bochs without timer save", true);
    /* ... and with it. */
    m = bochs_skylake_x();
    expect_ok(&m, true, "Bochs");
    assert_true(out.exit & EXIT_SAVE_VMX_PREEMPTION_TIMER);
}

/* ---- refusals ------------------------------------------------------------------- */

static void test_no_ept(void **state)
{
    (void)state;
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
        struct vmx_msrs m = sets[s].get();
        take_away(&m, F_PROC2, PROC2_ENABLE_EPT);
        expect_refused(&m, true, F_PROC2, PROC2_ENABLE_EPT, "enable EPT", sets[s].name);
        assert_string_equal(fail.field, "secondary processor-based");
        assert_string_equal(fail.control, "enable EPT");
        assert_string_equal(fail.msr, "IA32_VMX_PROCBASED_CTLS2");
    }
}

static void test_no_unrestricted_guest(void **state)
{
    (void)state;
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++)
        for (int lm = 0; lm < 2; lm++) {
            struct vmx_msrs m = sets[s].get();
            take_away(&m, F_PROC2, PROC2_UNRESTRICTED_GUEST);
            expect_refused(&m, lm, F_PROC2, PROC2_UNRESTRICTED_GUEST, "unrestricted guest",
                           sets[s].name);
            assert_string_equal(fail.control, "unrestricted guest");
        }

    /* Both gone: one report naming both bits, EPT first. */
    struct vmx_msrs m = bochs_skylake_x();
    take_away(&m, F_PROC2, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST);
    expect_refused(&m, false, F_PROC2, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST,
                   "enable EPT", "Bochs without EPT and unrestricted guest");
}

static void test_no_ack_interrupt_on_exit(void **state)
{
    (void)state;
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
        struct vmx_msrs m = sets[s].get();
        take_away(&m, F_EXIT, EXIT_ACK_INTERRUPT_ON_EXIT);
        expect_refused(&m, true, F_EXIT, EXIT_ACK_INTERRUPT_ON_EXIT,
                       "acknowledge interrupt on exit", sets[s].name);
        assert_string_equal(fail.msr, "IA32_VMX_TRUE_EXIT_CTLS");
        m.have_true = false;
        expect_refused(&m, true, F_EXIT, EXIT_ACK_INTERRUPT_ON_EXIT,
                       "acknowledge interrupt on exit", sets[s].name);
        assert_string_equal(fail.msr, "IA32_VMX_EXIT_CTLS");
    }
}

/* Every required control, taken away alone, from every set, read with and
 * without the TRUE MSRs (bit 55 set and read / bit 55 clear / not read). */
static void test_each_required_control(void **state)
{
    (void)state;
    char what[160];
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++)
        for (int variant = 0; variant < 3; variant++)
            for (size_t i = 0; i <= ARRAY_SIZE(required); i++) {
                const struct required_ctl *r = i < ARRAY_SIZE(required) ? &required[i]
                                                                        : &ia32e_mode_guest;
                struct vmx_msrs m = sets[s].get();
                if (variant == 1)
                    m.basic &= ~VMX_BASIC_TRUE_CTLS;
                if (variant == 2)
                    m.have_true = false;
                take_away(&m, r->field, r->bit);
                snprintf(what, sizeof(what), "%s (TRUE variant %d) without \"%s\"", sets[s].name,
                         variant, r->name);
                expect_refused(&m, true, r->field, r->bit, r->name, what);
                assert_int_equal(caps.true_ctls, variant == 0);
                if (r == &ia32e_mode_guest) {
                    /* A 32-bit guest does not need it. */
                    expect_ok(&m, false, what);
                    check_controls(what, false);
                } else {
                    assert_int_equal(compute(&m, false), -1);
                }
            }
}

/* Controls missing from several fields: the first field in the order pin,
 * primary, secondary, exit, entry is reported. */
static void test_first_field_reported(void **state)
{
    (void)state;
    struct vmx_msrs m = intel_coffee_lake();
    take_away(&m, F_ENTRY, ENTRY_LOAD_IA32_EFER);
    take_away(&m, F_EXIT, EXIT_HOST_ADDRESS_SPACE_SIZE);
    expect_refused(&m, true, F_EXIT, EXIT_HOST_ADDRESS_SPACE_SIZE, "host address-space size",
                   "exit and entry");
    take_away(&m, F_PROC, PROC_USE_MSR_BITMAPS);
    expect_refused(&m, true, F_PROC, PROC_USE_MSR_BITMAPS, "use MSR bitmaps", "proc, exit, entry");
    take_away(&m, F_PIN, PIN_NMI_EXITING);
    expect_refused(&m, true, F_PIN, PIN_NMI_EXITING, "NMI exiting", "pin, proc, exit, entry");

    /* No secondary controls at all: "activate secondary controls" is what
     * is missing, not EPT. */
    m = kvm_nested_gce();
    take_away(&m, F_PROC, PROC_ACTIVATE_SECONDARY_CONTROLS);
    expect_refused(&m, false, F_PROC, PROC_ACTIVATE_SECONDARY_CONTROLS,
                   "activate secondary controls", "KVM without secondary controls");
    assert_string_equal(fail.msr, "IA32_VMX_TRUE_PROCBASED_CTLS");
    /* IA32_VMX_PROCBASED_CTLS2 not readable: the secondary field is empty. */
    m = kvm_nested_gce();
    m.have_procbased2 = false;
    expect_refused(&m, false, F_PROC2, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST, "enable EPT",
                   "KVM without IA32_VMX_PROCBASED_CTLS2");
    assert_int_equal(fail.may_be_1, 0);
}

/* ---- random capabilities ------------------------------------------------------------ */

/* Variants of the recorded sets with random controls taken away and random
 * allowed bits forced: either every property holds, or the refusal names the
 * first field lacking a required control, exactly what it lacks, and one of
 * the missing controls by its SDM name. */
static void test_random_capabilities(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed283;
    unsigned ok = 0, refused = 0;
    for (int iter = 0; iter < 30000; iter++) {
        struct vmx_msrs m = sets[rng_below(&seed, ARRAY_SIZE(sets))].get();
        bool lm = rng_next(&seed) & 1;
        if (rng_below(&seed, 4) == 0)
            m.have_true = false;
        for (int f = 0; f < F_COUNT; f++) {
            /* Take away a few bits (each with probability 1/32). */
            uint32_t gone = (uint32_t)(rng_next(&seed) & rng_next(&seed) & rng_next(&seed) &
                                       rng_next(&seed) & rng_next(&seed));
            take_away(&m, f, gone);
            /* Force a few allowed ones, never "IA-32e mode guest" (the SDM
             * never makes it a default1 bit). */
            uint64_t *plain, *true_msr;
            field_msrs(&m, f, &plain, &true_msr);
            uint32_t force = (uint32_t)(rng_next(&seed) & rng_next(&seed) & rng_next(&seed) &
                                        rng_next(&seed));
            if (f == F_ENTRY)
                force &= ~ENTRY_IA32E_MODE_GUEST;
            *plain |= force & (uint32_t)(*plain >> 32);
            if (true_msr)
                *true_msr |= force & (uint32_t)(*true_msr >> 32);
        }
        vmx_caps_decode(&m, &caps);

        /* What the model says is missing, field by field. */
        uint32_t need[F_COUNT] = { 0 };
        for (size_t i = 0; i < ARRAY_SIZE(required); i++)
            need[required[i].field] |= required[i].bit;
        if (lm)
            need[F_ENTRY] |= ENTRY_IA32E_MODE_GUEST;
        int first = -1;
        for (int f = 0; f < F_COUNT && first < 0; f++)
            if (need[f] & ~field_caps(&caps, f)->may_be_1)
                first = f;

        char what[64];
        snprintf(what, sizeof(what), "random capabilities #%d", iter);
        memset(&out, 0xa5, sizeof(out));
        memset(&fail, 0, sizeof(fail));
        int rc = vmx_compute_controls(&caps, lm, &out, &fail);
        if (first < 0) {
            if (rc)
                fail_msg("%s: refused (%s: %s) though all required controls are allowed", what,
                         fail.field, fail.control);
            check_controls(what, lm);
            ok++;
            continue;
        }
        refused++;
        assert_int_equal(rc, -1);
        uint32_t missing = need[first] & ~field_caps(&caps, first)->may_be_1;
        assert_string_equal(fail.field, field_names[first]);
        assert_int_equal(fail.missing, missing);
        assert_int_equal(fail.may_be_1, field_caps(&caps, first)->may_be_1);
        assert_string_equal(fail.msr, caps.true_ctls && first != F_PROC2 ? true_msr_names[first]
                                                                         : msr_names[first]);
        bool named = false;
        for (size_t i = 0; i < ARRAY_SIZE(required); i++)
            if ((int)required[i].field == first && (missing & required[i].bit) &&
                !strcmp(fail.control, required[i].name))
                named = true;
        if (first == F_ENTRY && (missing & ENTRY_IA32E_MODE_GUEST) &&
            !strcmp(fail.control, ia32e_mode_guest.name))
            named = true;
        if (!named)
            fail_msg("%s: fail.control \"%s\" is not a missing %s control (missing %#x)", what,
                     fail.control, field_names[first], missing);
    }
    /* Both outcomes were exercised. */
    assert_true(ok > 1000);
    assert_true(refused > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_sets),
        cmocka_unit_test(test_optional_controls_per_set),
        cmocka_unit_test(test_true_msrs_honoured),
        cmocka_unit_test(test_vpid_and_timer_when_offered),
        cmocka_unit_test(test_no_ept),
        cmocka_unit_test(test_no_unrestricted_guest),
        cmocka_unit_test(test_no_ack_interrupt_on_exit),
        cmocka_unit_test(test_each_required_control),
        cmocka_unit_test(test_first_field_reported),
        cmocka_unit_test(test_random_capabilities),
    };
    return cmocka_run_group_tests_name("vmx_controls", tests, NULL, NULL);
}
