/*
 * AMD SVM survey (AMD APM Vol. 2, 15.4 "Enabling SVM"): CPUID Fn8000_0001
 * ECX[2] announces SVM, Fn8000_000A gives the revision, ASID count and
 * features (EDX[0] nested paging), and VM_CR.SVMDIS tells whether firmware
 * disabled it.  Only reported for now: the hypervisor's backend is VMX.
 */
#include <hv/virt.h>
#include <hv/x86.h>

#define CPUID_80000001_ECX_SVM  BIT(2)
#define SVM_FEATURE_NPT         BIT(0)
#define SVM_FEATURE_NRIPS       BIT(3)
#define SVM_FEATURE_VMCB_CLEAN  BIT(5)
#define SVM_FEATURE_DECODE      BIT(7)
#define VM_CR_LOCK              BIT(3)
#define VM_CR_SVMDIS            BIT(4)

void svm_survey(struct virt_report *r)
{
    if (cpuid(0x80000000, 0).eax < 0x8000000A)
        return;
    r->svm_cpuid = cpuid(0x80000001, 0).ecx & CPUID_80000001_ECX_SVM;
    if (!r->svm_cpuid)
        return;
    struct cpuid_regs l = cpuid(0x8000000A, 0);
    r->svm.revision = l.eax & 0xFF;
    r->svm.asids = l.ebx;
    r->svm.npt = l.edx & SVM_FEATURE_NPT;
    r->svm.nrips = l.edx & SVM_FEATURE_NRIPS;
    r->svm.vmcb_clean = l.edx & SVM_FEATURE_VMCB_CLEAN;
    r->svm.decode_assists = l.edx & SVM_FEATURE_DECODE;
    r->svm.vm_cr = rdmsr(MSR_AMD_VM_CR);
    r->svm.locked_by_firmware = r->svm.vm_cr & VM_CR_SVMDIS;
}
