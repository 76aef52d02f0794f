; real16: the real-mode example guest, a flat binary for the hypervisor's
; "real" entry mode (loaded at 0x7C00, started at 0000:7C00, SS:SP =
; 0000:7C00, interrupts off, no BIOS).
;
; It prints one line byte by byte on the debug console (port 0xE9) and ends
; with HC_EXIT(0x16) through VMCALL.  Outside the hypervisor VMCALL raises
; #UD: the handler installed in the real-mode IVT then prints why and exits
; through QEMU's isa-debug-exit (port 0xF4) instead.  It is also a valid
; boot sector (512 bytes, 0x55AA), so a BIOS can boot it:
;     qemu-system-x86_64 -drive format=raw,file=real16.bin -debugcon stdio \
;         -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none
; exits with status (0x16 << 1) | 1 = 45.

bits 16
org 0x7C00

; From include/hv/hypercall.h (nasm cannot read C headers).
HC_EXIT             equ 0
DEBUG_CONSOLE_PORT  equ 0xE9
QEMU_EXIT_PORT      equ 0xF4

EXIT_STATUS         equ 0x16
LOAD_ADDRESS        equ 0x7C00
IVT_UD              equ 6 * 4       ; real-mode IVT entry of #UD: offset, segment
BOOT_SECTOR_SIZE    equ 512
BOOT_SIGNATURE      equ 0xAA55

start:
    cli
    jmp 0:normalized                ; some BIOSes enter at 07C0:0000: make CS = 0
normalized:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, LOAD_ADDRESS
    cld

    mov word [IVT_UD], ud_handler
    mov word [IVT_UD + 2], 0

    mov si, msg_hello
    call print

    ; 32-bit registers in real mode: the ABI reads EAX/EBX here.
    mov eax, HC_EXIT
    mov ebx, EXIT_STATUS
    vmcall
    ; HC_EXIT never returns.  If it did, say so and try the other way out.
    mov si, msg_returned
    call print
    jmp exit_through_port

ud_handler:
    mov si, msg_no_hypervisor
    call print
exit_through_port:
    mov al, EXIT_STATUS
    out QEMU_EXIT_PORT, al
halt:
    cli
    hlt
    jmp halt

; Prints the NUL-terminated string at DS:SI, one OUT per byte.
print:
    lodsb
    test al, al
    jz .done
    out DEBUG_CONSOLE_PORT, al
    jmp print
.done:
    ret

msg_hello:          db "hello from real16 (real mode)", 10, 0
msg_returned:       db "real16: HC_EXIT returned, trying port 0xF4", 10, 0
msg_no_hypervisor:  db "real16: VMCALL raised #UD (no hypervisor), exiting through port 0xF4", 10, 0

    times BOOT_SECTOR_SIZE - 2 - ($ - $$) db 0
    dw BOOT_SIGNATURE
