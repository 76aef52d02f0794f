; Multiboot2 entry: GRUB leaves us in 32-bit protected mode with paging off
; (Multiboot2 spec, "I386 machine state").  This stub checks that it was really
; loaded by a Multiboot2 loader and that the CPU can run 64-bit code, builds the
; early page tables, enters long mode and jumps to the higher-half kernel.
;
; Early page tables (all 2 MiB pages, see SDM Vol. 3A, 4.5):
;   PML4[0]   -> pdpt_direct : identity map of the low 4 GiB (needed while we
;                              switch, and by the AP trampoline; removed later)
;   PML4[256] -> pdpt_direct : direct map of physical memory at 0xFFFF800000000000
;   PML4[511] -> pdpt_kernel : PDPT[510] maps the first GiB at 0xFFFFFFFF80000000
; C code (kernel/mm/paging.c) extends the direct map past 4 GiB.

%define KERNEL_VMA          0xFFFFFFFF80000000
%define MB2_HEADER_MAGIC    0xE85250D6
%define MB2_BOOT_MAGIC      0x36D76289
%define MB2_ARCH_I386       0

%define PTE_PRESENT         (1 << 0)
%define PTE_WRITE           (1 << 1)
%define PTE_LARGE           (1 << 7)

%define CR0_PE              (1 << 0)
%define CR0_WP              (1 << 16)
%define CR0_PG              (1 << 31)
%define CR4_PAE             (1 << 5)
%define MSR_EFER            0xC0000080
%define EFER_LME            (1 << 8)
%define EFER_NXE            (1 << 11)

%define COM1                0x3F8
%define VGA_TEXT            0xB8000
%define BOOT_STACK_SIZE     16384       ; = KERNEL_STACK_SIZE in include/hv/percpu.h

extern kmain
extern __bss_start
extern __bss_end
global _start
global boot_pml4
global boot_efer
global gdt64_ptr

; ---------------------------------------------------------------------------
section .multiboot2
align 8
mb2_header:
    dd MB2_HEADER_MAGIC
    dd MB2_ARCH_I386
    dd mb2_header_end - mb2_header
    dd -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

    ; Framebuffer request (tag type 5).  Flag bit 0 = optional: GRUB may leave
    ; us in VGA text mode, which the console handles too.  (Under Bochs, GRUB
    ; 2.06's VBE path triple-faults when this tag is present: Bochs runs use
    ; "vga: extension=none" so that GRUB falls back to text mode.)
%ifndef NO_FRAMEBUFFER_TAG
    align 8
    dw 5, 1
    dd 20
%ifndef FB_WIDTH
%define FB_WIDTH 1024
%define FB_HEIGHT 768
%define FB_DEPTH 32
%endif
    dd FB_WIDTH, FB_HEIGHT, FB_DEPTH
%endif

    ; Module alignment (tag type 6): page-aligned modules simplify the
    ; physical allocator and later guest loading.
    align 8
    dw 6, 0
    dd 8

    align 8
    dw 0, 0                         ; end tag
    dd 8
mb2_header_end:

; ---------------------------------------------------------------------------
section .boot.text
bits 32
_start:
    cli
    cld
    mov esp, boot_stack_top
    mov edi, eax                    ; keep the boot magic
    mov esi, ebx                    ; and the multiboot2 info pointer

    call early_serial_init

    cmp edi, MB2_BOOT_MAGIC
    jne .bad_magic

    ; Long mode needs CPUID leaf 0x80000001 EDX.LM[29] (SDM Vol. 3A, 9.8.5).
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, (1 << 29)
    jz .no_long_mode

    ; EFER value for this core and, through boot_efer, for the APs.
    mov ebx, EFER_LME
    test edx, (1 << 20)             ; NX available?
    jz .no_nx
    or ebx, EFER_NXE
.no_nx:
    mov [boot_efer], ebx

    ; Zero the kernel's .bss (GRUB zero-fills p_memsz, but do not depend on it).
    mov edi, __bss_start - KERNEL_VMA
    mov ecx, __bss_end - KERNEL_VMA
    sub ecx, edi
    xor eax, eax
    rep stosb
    mov edi, MB2_BOOT_MAGIC         ; restore after using edi for stosb

    call build_page_tables

    mov eax, boot_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, [boot_efer]
    wrmsr
    mov eax, cr0
    or eax, CR0_PG | CR0_WP | CR0_PE
    mov cr0, eax

    lgdt [gdt64_ptr]
    jmp 0x08:long_mode_entry

.bad_magic:
    mov ebx, msg_bad_magic
    jmp early_fatal
.no_long_mode:
    mov ebx, msg_no_long_mode
    jmp early_fatal

; Fill the early page tables described at the top of this file.
build_page_tables:
    ; PD entries: 2048 x 2 MiB = 4 GiB, all below 4 GiB so the high dword is 0.
    mov edi, pd_direct
    xor ecx, ecx
.pd_loop:
    mov eax, ecx
    shl eax, 21
    or eax, PTE_PRESENT | PTE_WRITE | PTE_LARGE
    mov [edi + ecx * 8], eax
    mov dword [edi + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 2048
    jb .pd_loop

    ; PDPT of the direct map: four PDs.
    mov edi, pdpt_direct
    mov eax, pd_direct + (PTE_PRESENT | PTE_WRITE)
    mov ecx, 4
.pdpt_loop:
    mov [edi], eax
    add eax, 4096
    add edi, 8
    loop .pdpt_loop

    ; Kernel window: PDPT[510] reuses the first PD (physical 0..1 GiB).
    mov dword [pdpt_kernel + 510 * 8], pd_direct + (PTE_PRESENT | PTE_WRITE)

    mov eax, pdpt_direct + (PTE_PRESENT | PTE_WRITE)
    mov [boot_pml4 + 0 * 8], eax
    mov [boot_pml4 + 256 * 8], eax
    mov dword [boot_pml4 + 511 * 8], pdpt_kernel + (PTE_PRESENT | PTE_WRITE)
    ret

; Program COM1 for 115200 8N1 so that early failures are visible on the serial
; console (GRUB leaves LCR in a state where Bochs writes 5-bit characters).
early_serial_init:
    mov dx, COM1 + 1
    xor al, al
    out dx, al                      ; IER = 0
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al                      ; LCR.DLAB = 1
    mov dx, COM1 + 0
    mov al, 1
    out dx, al                      ; DLL = 1 (115200 baud)
    mov dx, COM1 + 1
    xor al, al
    out dx, al                      ; DLM = 0
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al                      ; 8N1, DLAB = 0
    mov dx, COM1 + 2
    mov al, 0xC7
    out dx, al                      ; enable and clear FIFOs
    ret

; Print the NUL-terminated string at EBX on COM1 and the VGA text screen, then
; halt this core for good.  Used only before long mode, where nothing else works.
early_fatal:
    mov esi, ebx
    mov edi, VGA_TEXT
.next:
    lodsb
    test al, al
    jz .halt
    mov ah, al
    mov dx, COM1 + 5
.wait_thre:
    in al, dx
    test al, 0x20
    jz .wait_thre
    mov al, ah
    mov dx, COM1
    out dx, al
    mov byte [edi], al
    mov byte [edi + 1], 0x4F        ; white on red
    add edi, 2
    jmp .next
.halt:
    cli
    hlt
    jmp .halt

bits 64
long_mode_entry:
    xor eax, eax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    ; Jump to the higher half: from here on only the kernel window is used.
    mov rax, .higher_half
    jmp rax
section .text
.higher_half:
    mov rsp, bsp_stack_top
    xor ebp, ebp
    mov edi, MB2_BOOT_MAGIC
    mov esi, esi                    ; zero-extend the multiboot2 info address
    call kmain
.hang:
    cli
    hlt
    jmp .hang

; ---------------------------------------------------------------------------
section .boot.data
align 16
gdt64:
    dq 0                            ; null
    dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code, DPL 0
    dq 0x00CF92000000FFFF           ; 0x10: data, DPL 0
gdt64_end:
gdt64_ptr:
    dw gdt64_end - gdt64 - 1
    dq gdt64
boot_efer:
    dd 0

msg_bad_magic:
    db "FATAL: not loaded by a Multiboot2 boot loader (EAX != 0x36D76289); boot this kernel with GRUB's multiboot2 command", 13, 10, 0
msg_no_long_mode:
    db "FATAL: this CPU cannot run 64-bit code (CPUID.80000001H:EDX.LM = 0); the hypervisor needs an x86-64 CPU", 13, 10, 0

section .boot.bss nobits
align 4096
boot_pml4:      resb 4096
pdpt_direct:    resb 4096
pdpt_kernel:    resb 4096
pd_direct:      resb 4 * 4096
boot_stack:     resb 4096
boot_stack_top:

section .bss
align 16
bsp_stack:      resb BOOT_STACK_SIZE
global bsp_stack_top
bsp_stack_top:
