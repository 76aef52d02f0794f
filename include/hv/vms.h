/* The VM manager's entry points for kmain (kernel/vm/vm.c). */
#ifndef HV_VMS_H
#define HV_VMS_H

#include <hv/mb2.h>

int vms_init(void);                     /* VMXON on every online core */
void vms_create(const struct mb2_info *mb);
unsigned vms_run(void);                 /* runs every VM to its end; returns how many ran */
void vms_shutdown(void);                /* VMXOFF on every core */
void vms_cpu_down(void);                /* VMXOFF on this core before it parks */

#endif
