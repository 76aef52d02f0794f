/*
 * Vendor-neutral view of what virtualization a core offers.  The vendor parts
 * are filled by kernel/vmx/vmx_survey.c (Intel VMX) and kernel/svm/svm_survey.c
 * (AMD SVM); kernel/virt_survey.c prints and compares them.
 */
#ifndef HV_VIRT_H
#define HV_VIRT_H

#include <hv/types.h>
#include <hv/vmx_caps.h>

struct svm_caps {
    uint32_t revision;
    uint32_t asids;
    bool npt;
    bool nrips;                 /* next-RIP save */
    bool vmcb_clean;
    bool decode_assists;
    bool locked_by_firmware;    /* VM_CR.SVMDIS (and VM_CR.LOCK) */
    uint64_t vm_cr;
};

struct virt_report {
    char vendor[13];
    char brand[49];
    uint32_t family, model, stepping;
    bool hypervisor_present;    /* CPUID.1:ECX[31]: we run nested */
    char hypervisor_sig[13];

    /* Intel VMX */
    bool vmx_cpuid;             /* CPUID.1:ECX.VMX[5] */
    uint64_t feature_control;   /* IA32_FEATURE_CONTROL */
    struct vmx_msrs vmx_msrs;
    struct vmx_caps vmx;
    bool vmx_usable;            /* everything this hypervisor needs is there */
    const char *vmx_problem;    /* why not, in SDM terms */

    /* AMD SVM */
    bool svm_cpuid;             /* CPUID.80000001H:ECX.SVM[2] */
    struct svm_caps svm;
};

/* Reads this core's CPUID and capability MSRs into *r. */
void virt_survey_this_cpu(struct virt_report *r);
void vmx_survey(struct virt_report *r);
void svm_survey(struct virt_report *r);

/* One line per core; `detailed` adds the raw MSRs and allowed settings. */
void virt_report_log(unsigned cpu_index, const struct virt_report *r, bool detailed);

/* Describes the first difference between two cores' reports, or NULL. */
const char *virt_report_mismatch(const struct virt_report *a, const struct virt_report *b);

#endif
