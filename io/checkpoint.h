/* checkpoint.h - T-RevSNN checkpoints in HDF5 (layout: docs/checkpoint.md and
 * ../shared/design/checkpoint.md).
 *
 * Loading validates, then commits: every tensor is read and shape-checked
 * into a temporary copy first; the model's parameters change only when the
 * whole file is valid. Errors name the file and the tensor with expected and
 * found shapes. */
#ifndef IO_CHECKPOINT_H
#define IO_CHECKPOINT_H

#include "io/h5.h"
#include "sim/optim.h"
#include "topology/trevsnn.h"

#define CKPT_FORMAT "trevsnn-checkpoint"
#define CKPT_VERSION 1

/* Resource bounds of the loader (whatever a file claims):
 *  - a config whose parameter table could exceed CKPT_MAX_VALUES values
 *    (2^27; the largest preset, "small", has 32.3 M) is rejected before the
 *    model is built, so a model costs at most CKPT_MAX_VALUES reals per
 *    role (parameters, gradients, each optimizer moment, EMA);
 *  - state/order may hold at most CKPT_MAX_ORDER entries (the most images a
 *    dataset may have), state/rng at most CKPT_MAX_RNG bytes;
 *  - string attributes at most H5IO_MAX_STR bytes (io/h5.h).
 * Every other tensor is read into a buffer sized by the model, after its
 * shape was checked against the model's. */
#define CKPT_MAX_VALUES ((size_t)1 << 27)
#define CKPT_MAX_ORDER 10000000
#define CKPT_MAX_RNG (1 << 24)

/* An upper bound of the number of values (trev_nvalues) of the model cfg
 * describes, from the configuration alone (in double: cannot overflow). */
double ckpt_values_bound(const trev_config *cfg);

/* Parse the config JSON of a checkpoint (or the golden file) into cfg,
 * starting from defaults for unspecified optional keys. `file` is used in
 * messages. */
sim_status ckpt_config_from_json(sim_ctx *ctx, const char *json, const char *file,
                                 trev_config *cfg);
/* Read the root "config" attribute of an open file. */
sim_status ckpt_read_config(sim_ctx *ctx, const h5_file *f, trev_config *cfg);

/* Load every entry of the model's parameter table from <group>/<name>
 * (group "params" for checkpoints and the golden file). */
sim_status ckpt_load_params(sim_ctx *ctx, trev_model *m, const h5_file *f, const char *group);

/* Open `path`, check its format attribute, build the model it describes
 * (inference or training) and load its parameters. */
sim_status ckpt_open_model(sim_ctx *ctx, const char *path, trev_model **m, int train);

/* Training progress stored under /state (and read back by ckpt_load_state). */
typedef struct {
    int64_t epoch;          /* epochs completed */
    int64_t step;           /* optimizer updates done */
    int64_t batch_in_epoch; /* batches of the current epoch already used */
    int *order;             /* the current epoch's image order */
    int norder;
    unsigned char *rng;     /* all random streams (rng_save) */
    size_t rng_len;
    char cmdline[2048];     /* the training command line */
    char options[2048];     /* training options as JSON */
} ckpt_state;

/* Write a checkpoint atomically (temporary file + rename): format, version,
 * config, every parameter as float32 under /params, optimizer moments under
 * /optim/<name>/{exp_avg,exp_avg_sq}, EMA weights under /ema, progress
 * under /state. o and s may be NULL (a weights-only checkpoint). */
sim_status ckpt_save(sim_ctx *ctx, const char *path, trev_model *m, const optim *o,
                     const ckpt_state *s);
/* Restore optimizer moments, EMA and /state from an open checkpoint into o
 * and s (s->order and s->rng are allocated with mem_alloc, MEM_DATA). */
sim_status ckpt_load_state(sim_ctx *ctx, const h5_file *f, trev_model *m, optim *o,
                           ckpt_state *s);
void ckpt_state_free(sim_ctx *ctx, ckpt_state *s);

#endif
