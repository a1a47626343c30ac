/* status.h - what can go wrong at run time.
 *
 * Functions that can fail on input (files, options, shapes, memory) return a
 * sim_status; bugs are caught by assert. The detailed one-line message
 * (file, what was expected, what was found) lives in the context, see
 * ctx_error() in ctx.h. */
#ifndef SIM_STATUS_H
#define SIM_STATUS_H

typedef enum {
    SIM_OK = 0,
    SIM_ENOMEM,    /* allocation failed or a size overflowed */
    SIM_EINVAL,    /* bad argument or option value */
    SIM_ESHAPE,    /* tensor shapes do not fit together */
    SIM_EIO,       /* a file could not be opened, read or written */
    SIM_EFORMAT,   /* a file exists but its contents are not what we expect */
    SIM_ENOTFOUND, /* a named item (tensor, dataset, preset) is missing */
    SIM_ERANGE,    /* an index or count is outside what is available */
    SIM_ENUMERIC,  /* NaN or Inf where a finite number was needed */
    SIM_ELIB,      /* a system library (BLAS, HDF5, libevent) failed */
    SIM_NSTATUS
} sim_status;

/* Short fixed description of a status ("out of memory", ...). */
const char *sim_strerror(sim_status s);

#endif
