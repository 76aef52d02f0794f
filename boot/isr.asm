; Interrupt and exception entry stubs.  Every vector gets a stub that makes the
; stack look the same (SDM Vol. 3A, 6.14.1: the CPU pushes an error code only for
; some exceptions, so the others push a dummy 0), pushes its vector number and
; jumps to a common path that saves the general registers into a struct
; trap_frame (include/hv/trap.h) and calls trap_dispatch().

extern trap_dispatch
global isr_stub_table

section .text
bits 64

; Vectors with a CPU-pushed error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13,
; #PF 14, #AC 17, #CP 21, #VC 29, #SX 30.
%macro ISR 1
align 16
isr_%1:
%if %1 = 8 || (%1 >= 10 && %1 <= 14) || %1 = 17 || %1 = 21 || %1 = 29 || %1 = 30
%else
    push 0
%endif
    push %1
    jmp isr_common
%endmacro

%assign v 0
%rep 256
ISR v
%assign v v + 1
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
    mov rdi, rsp
    ; Keep the ABI's 16-byte stack alignment at the call.
    mov rbx, rsp
    and rsp, -16
    cld
    call trap_dispatch
    mov rsp, rbx
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
    add rsp, 16                     ; vector and error code
    iretq

section .rodata
align 8
isr_stub_table:
%assign v 0
%rep 256
    dq isr_ %+ v
%assign v v + 1
%endrep
