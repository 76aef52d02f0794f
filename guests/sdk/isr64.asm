; Exception entry stubs for 64-bit guests (see guest/trap64.h).
;
; Every stub leaves the same frame: the CPU's (SS, RSP, RFLAGS, CS, RIP), an
; error code (the CPU's, or a 0 we push for vectors without one), the vector
; number, then the 15 general registers.  trap64_dispatch gets a pointer to
; it as struct trap_frame64 *.

bits 64
default rel

section .text
extern trap64_dispatch

%macro ISR_NO_ERROR_CODE 1
isr%1:
    push qword 0
    push qword %1
    jmp isr_common
%endmacro

%macro ISR_ERROR_CODE 1
isr%1:
    push qword %1
    jmp isr_common
%endmacro

; The vectors for which the CPU pushes an error code: #DF, #TS, #NP, #SS,
; #GP, #PF, #AC, #CP, #VC, #SX.
%assign vec 0
%rep 32
  %if vec = 8 || (vec >= 10 && vec <= 14) || vec = 17 || vec = 21 || vec = 29 || vec = 30
    ISR_ERROR_CODE vec
  %else
    ISR_NO_ERROR_CODE vec
  %endif
  %assign vec vec + 1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    ; The CPU aligned RSP to 16 before its 5 pushes; 5 + 2 + 15 = 22 pushes
    ; keep it aligned for the call.
    mov rdi, rsp
    cld
    call trap64_dispatch
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

section .rodata
align 8
global isr64_stubs
isr64_stubs:
%assign vec 0
%rep 32
    dq isr %+ vec
  %assign vec vec + 1
%endrep

section .note.GNU-stack noalloc noexec nowrite progbits
