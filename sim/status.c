/* status.c - names of the status codes. */
#include "status.h"

const char *sim_strerror(sim_status s)
{
    static const char *const names[SIM_NSTATUS] = {
        [SIM_OK] = "success",
        [SIM_ENOMEM] = "out of memory",
        [SIM_EINVAL] = "invalid argument",
        [SIM_ESHAPE] = "shape mismatch",
        [SIM_EIO] = "input/output error",
        [SIM_EFORMAT] = "bad file format",
        [SIM_ENOTFOUND] = "not found",
        [SIM_ERANGE] = "out of range",
        [SIM_ENUMERIC] = "non-finite value",
        [SIM_ELIB] = "library error",
    };
    if ((unsigned)s >= SIM_NSTATUS)
        return "unknown status";
    return names[s];
}
