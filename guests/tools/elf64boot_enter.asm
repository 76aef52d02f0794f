; elf64boot's switch from 32-bit protected mode to long mode (Intel SDM vol. 3
; 10.8.5): with paging off, set CR3, CR4.PAE and EFER.LME, then turn on
; CR0.PG (that activates long mode, in compatibility mode), then far-jump to
; a 64-bit code segment.
;
; void elf64boot_enter(uint32_t pml4, uint32_t entry, uint32_t args,
;                      uint32_t ram_size, uint32_t stack)   -- cdecl, no return

bits 32

CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xC0000080
EFER_LME        equ 1 << 8
SEL_CODE64      equ 0x08
SEL_DATA        equ 0x10

section .text
global elf64boot_enter

elf64boot_enter:
    mov eax, [esp + 4]
    mov cr3, eax
    mov ebx, [esp + 8]          ; entry
    mov edi, [esp + 12]         ; args: RDI in the elf64 ABI
    mov esi, [esp + 16]         ; RAM size: RSI
    mov ebp, [esp + 20]         ; initial stack

    lgdt [gdt_descriptor]
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    jmp SEL_CODE64:long_mode

bits 64
long_mode:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    ; The upper halves of the registers are undefined after the switch:
    ; a 32-bit move clears them.
    mov edi, edi
    mov esi, esi
    mov ebx, ebx
    mov esp, ebp
    xor ebp, ebp
    jmp rbx

section .data
align 8
; null, 64-bit code (L=1), data
gdt:
    dq 0
    dq 0x00AF9A000000FFFF
    dq 0x00CF92000000FFFF
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

section .note.GNU-stack noalloc noexec nowrite progbits
