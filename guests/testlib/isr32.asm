; Exception and interrupt entry stubs for 32-bit test guests (trap32.h).
;
; Every stub leaves the same frame: the CPU's (EFLAGS, CS, EIP), an error
; code (the CPU's, or a 0 we push for vectors without one), the vector, the
; eight general registers (PUSHAD), DS and ES.  trap32_dispatch gets a
; pointer to it as struct trap_frame32 *.

bits 32

SEL_DATA    equ 0x10

section .text
extern trap32_dispatch

%macro ISR_NO_ERROR_CODE 1
isr%1:
    push dword 0
    push dword %1
    jmp isr_common
%endmacro

%macro ISR_ERROR_CODE 1
isr%1:
    push dword %1
    jmp isr_common
%endmacro

; The CPU pushes an error code for #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP,
; #VC, #SX; never for external interrupts (vectors 32 and up).
%assign vec 0
%rep 48
  %if vec = 8 || (vec >= 10 && vec <= 14) || vec = 17 || vec = 21 || vec = 29 || vec = 30
    ISR_ERROR_CODE vec
  %else
    ISR_NO_ERROR_CODE vec
  %endif
  %assign vec vec + 1
%endrep

isr_common:
    pushad
    ; The interrupted code may run with other data segments (the string I/O
    ; tests load DS and ES with non-zero bases): C wants flat ones.
    push ds
    push es
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov eax, esp
    push eax                    ; struct trap_frame32 *
    cld
    call trap32_dispatch
    add esp, 4
    pop es
    pop ds
    popad
    add esp, 8                  ; vector and error code
    iretd

section .rodata
align 4
global isr32_stubs
isr32_stubs:
%assign vec 0
%rep 48
    dd isr %+ vec
  %assign vec vec + 1
%endrep

section .note.GNU-stack noalloc noexec nowrite progbits
