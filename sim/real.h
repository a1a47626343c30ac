/* real.h - the numeric type of the whole simulator.
 *
 * Everything numeric is written against `real`. The default build uses float;
 * building with -DSIM_DOUBLE (make PREC=double) switches every layer, the BLAS
 * calls and the file I/O to double. Gradient checks and the golden-file tests
 * run in the double build. */
#ifndef SIM_REAL_H
#define SIM_REAL_H

#ifdef SIM_DOUBLE
typedef double real;
#define REAL_IS_DOUBLE 1
#define REAL_NAME "double"
#define REAL_EPS 2.220446049250313e-16
#else
typedef float real;
#define REAL_IS_DOUBLE 0
#define REAL_NAME "float"
#define REAL_EPS 1.1920929e-07f
#endif

/* 64 bytes of real values as one GCC vector (an AVX-512 register, or two
 * AVX2 ones), for kernels that keep accumulators in registers. Loads and
 * stores through a (real_vec *) need no alignment beyond that of real. */
#define REAL_VLEN ((int)(64 / sizeof(real)))
typedef real real_vec __attribute__((vector_size(64), aligned(sizeof(real))));

#endif
