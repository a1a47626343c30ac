/* trace.h - the spike-trace writer (engine.md §4): an HDF5 file that SONATA
 * readers (libsonata, bmtk) and h5py open without conversion, streamed to
 * disk in fixed chunks while the engine runs.
 *
 * Layout (N = spikes of a population, S = samples, R = energy rows):
 *
 *   /                       attrs format = "trevsnn-trace", version = 1
 *   /spikes                 attr  sorting = by_time (legacy readers)
 *   /spikes/<pop>           attrs sorting = by_time, n_nodes (int64)
 *     timestamps  (N) float64, attr units = "ms"; timestep t -> t * dt_ms
 *     node_ids    (N) uint64, 0-based, c*H*W + y*W + x
 *   /samples      (S) compound {index int64, first_timestep int64,
 *                   label int32, prediction int32, spikes uint64,
 *                   energy_pj float64, energy_lit_pj float64}
 *   /energy                 attrs e_mac_pj, e_ac_pj (float64), units = "pJ"
 *     counters    (R) compound {sample int64, timestep int64 (within the
 *                   sample), projection int32, events uint64, acs uint64,
 *                   macs uint64, sop float64}
 *     projections (nproj) variable-length UTF-8 strings, in index order
 *   /meta                   attrs preset, checkpoint, checksum, version,
 *                   command_line (strings), dt_ms (float64), T (int64)
 *
 * `sorting` is the SONATA enum {none 0, by_id 1, by_time 2} over uint8, a
 * scalar attribute of each population group: that is where the SONATA spec
 * puts it, where libsonata's SpikeReader reads it (as an enum) and its
 * writer puts it. bmtk looks there too but expects a string, so it reads
 * the spikes fine and treats the order as unknown. A copy on /spikes (not a
 * population: readers list objects, not attributes) serves readers of the
 * pre-population layout.
 *
 * Every dataset is 1-D, chunked and unlimited. Rows are buffered per
 * dataset (TRACE_CHUNK_SPIKES spikes per population, TRACE_CHUNK_ROWS
 * energy or sample rows) and then appended, so memory does not grow with
 * the length of the run: at most npop spike buffers (a population's buffer
 * is allocated at its first spike) plus two row buffers, all under
 * MEM_ENGINE (the trace and its names: MEM_META). A buffer is a whole
 * number of on-disk chunks (8192 spikes, 1024 rows: small enough that a
 * short trace stays small), so every append but the last writes whole
 * chunks, and HDF5's chunk cache is off for these datasets.
 *
 * The file is written to PATH.tmp.<pid> (io/h5.h atomic writes) and renamed
 * onto PATH by trace_close, so PATH holds either the old file or a
 * complete trace. Argument errors (a timestep going backwards, ids out of
 * range or not ascending) are reported and leave the trace as it was; an
 * HDF5 or I/O failure makes every later call fail and trace_close delete
 * the temporary. */
#ifndef IO_TRACE_H
#define IO_TRACE_H

#include <stdint.h>

#include "sim/ctx.h"
#include "topology/projection.h"

#define TRACE_FORMAT "trevsnn-trace"
#define TRACE_VERSION 1

#define TRACE_CHUNK_SPIKES 65536 /* spikes buffered per population, appended at once */
#define TRACE_CHUNK_ROWS 4096    /* /energy/counters and /samples rows buffered */

/* SONATA's sorting enum. */
typedef enum { TRACE_SORT_NONE = 0, TRACE_SORT_BY_ID = 1, TRACE_SORT_BY_TIME = 2 } trace_sorting;

typedef struct trace trace; /* opaque */

typedef struct {
    const char *preset;       /* model preset name */
    const char *checkpoint;   /* checkpoint path */
    const char *checksum;     /* e.g. hex CRC32 or SHA of the checkpoint file, as given */
    const char *version;      /* program version */
    const char *command_line;
    double dt_ms;             /* timestep length; 0 means the default 1.0 */
    int T;                    /* timesteps per image, >= 1 */
    double e_mac_pj, e_ac_pj; /* energy constants */
} trace_meta;                 /* NULL strings are written as "" */

/* One row of /samples. C keeps one namespace for type and function names,
 * so this is `struct trace_sample` (the function trace_sample takes it);
 * trace_sample_row names the same type. */
typedef struct trace_sample {
    int64_t index;          /* image index in the dataset */
    int64_t first_timestep; /* i * T for the i-th image of the run */
    int32_t label, prediction;
    uint64_t spikes;        /* all populations, this image */
    double energy_pj;       /* counted */
    double energy_lit_pj;   /* literature estimate */
} trace_sample_row;

/* Create the trace at `path` (written to a temporary in the same directory
 * and renamed into place by trace_close; an unwritable path fails HERE,
 * before any simulation work, with a message naming it). pop_names /
 * pop_sizes (npop >= 1): the populations, i.e. the group names under
 * /spikes (unique, non-empty, no '/', not "." or "..") and their neuron
 * counts; proj_names (nproj >= 0): projection names for /energy. On failure
 * *out is NULL and nothing is left on disk. */
sim_status trace_create(sim_ctx *ctx, trace **out, const char *path, const trace_meta *meta,
                        const char *const *pop_names /* (npop) */,
                        const int32_t *pop_sizes /* (npop) */, int npop,
                        const char *const *proj_names /* (nproj) */, int nproj);

/* Spikes of population `pop` at global timestep t (public node ids,
 * strictly ascending, each < the population's size): appended as
 * timestamps t * dt_ms (float64) and node_ids (uint64). t must not
 * decrease from one call to the next for the same population (the file
 * claims sorting by_time); a second call with the same t continues the
 * ascending ids (its first id above the last one written at t), so no
 * neuron appears twice in a timestep. Buffered and flushed a chunk at a
 * time. n == 0 is allowed and writes nothing. */
sim_status trace_spikes(sim_ctx *ctx, trace *tr, int pop, int64_t t,
                        const int32_t *ids /* (n) */, int32_t n);

/* Counters of every projection for one timestep of one sample: one row per
 * projection into /energy/counters (timestep = t_in_sample). */
sim_status trace_energy(sim_ctx *ctx, trace *tr, int64_t sample, int64_t t_in_sample,
                        const proj_counters *per_proj /* (nproj) */);

/* One row of /samples. s->first_timestep must be k * T for the k-th call
 * (images are shown one after another). */
sim_status trace_sample(sim_ctx *ctx, trace *tr, const struct trace_sample *s);

/* Flush, close and rename into place. On failure the temporary is removed
 * and the final path is untouched. tr is freed either way. */
sim_status trace_close(sim_ctx *ctx, trace *tr);

/* Close and delete the temporary (e.g. after an error); the final path is
 * untouched. tr is freed; NULL is a no-op. */
void trace_abort(sim_ctx *ctx, trace *tr);

/* ---- inspection ---- */

/* The final path, and the temporary being written (until close/abort). */
const char *trace_path(const trace *tr);
const char *trace_tmp_path(const trace *tr);
/* Spikes accepted so far for population pop (written or buffered). */
uint64_t trace_spike_count(const trace *tr, int pop);

#endif
