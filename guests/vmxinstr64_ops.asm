; The VMX instructions vmxinstr64 tries, one function each.
;
; Before executing its instruction a function records where that instruction
; is (ud_expect_rip: where a #UD must be reported, since #UD is a fault) and
; where to go on after it (ud_resume_rip: the #UD handler in vmxinstr64.c
; resumes there instead of decoding instruction lengths).

bits 64
default rel

extern ud_expect_rip, ud_resume_rip

section .data
align 16
; Operands: their values do not matter, the instructions must not run.
vmxon_region_pa:    dq 0x200000
invept_descriptor:  dq 0, 0

section .text

%macro TRY 2
global %1
%1:
    lea rax, [%%instruction]
    mov [ud_expect_rip], rax
    lea rax, [%%resume]
    mov [ud_resume_rip], rax
%%instruction:
    %2
%%resume:
    ret
%endmacro

TRY vmx_try_vmxon,    {vmxon [vmxon_region_pa]}
TRY vmx_try_vmread,   {vmread rax, rcx}
TRY vmx_try_vmlaunch, {vmlaunch}
TRY vmx_try_invept,   {invept rax, [invept_descriptor]}

section .note.GNU-stack noalloc noexec nowrite progbits
