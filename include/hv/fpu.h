/* Guest FPU/SSE/AVX state on the host (kernel/arch/fpu.c). */
#ifndef HV_FPU_H
#define HV_FPU_H

void fpu_enable_host(void);             /* every core: CR0/CR4 bits for SSE and XSAVE */
void fpu_init_for_guest(void);          /* before a VM first runs on this core */
void fpu_read_xmm(unsigned reg, void *out16);
void fpu_write_xmm(unsigned reg, const void *in16);

#endif
