/* safetensors.h: reading and writing the safetensors format (https://huggingface.co/docs/safetensors),
 * one file or a set of shards listed by model.safetensors.index.json.
 *
 * Reading memory-maps each file read-only and validates the whole layout up front: the 8-byte
 * header length against the file size, the header JSON, dtype strings, shapes (products checked
 * for overflow), data_offsets in bounds, matching shape x dtype size, not overlapping and
 * covering the data section without gaps; names unique across shards and matching the index.
 * Every problem is one error line naming the file and the tensor. Tensors of the float dtypes
 * F32, BF16 and F16 are converted to fp32 on request; other valid dtypes can be listed but not
 * read (PSW_ERR_UNSUPPORTED).
 * Writing produces F32 or BF16 (round to nearest even) files with __metadata__ {"format":"pt"}
 * and, when sharded, an index.json in the layout HuggingFace transformers writes and loads.
 *
 * Does not: know tensor names or model shapes (model_io.c does), or write F16.
 * Ownership: psw_safetensors owns its mappings and strings until psw_st_close; tensor data
 * pointers point into the mappings and die with them. Read-only use is thread-safe. */
#ifndef PSW_SAFETENSORS_H
#define PSW_SAFETENSORS_H

#include "psw/common.h"

typedef enum psw_dtype {
    PSW_DTYPE_F32 = 0,
    PSW_DTYPE_BF16,
    PSW_DTYPE_F16,
    PSW_DTYPE_OTHER, /* a valid safetensors dtype we cannot convert (F64, I64, U8, ...) */
} psw_dtype;

#define PSW_ST_MAX_DIMS 8

typedef struct psw_st_tensor {
    char *name;             /* owned */
    psw_dtype dtype;
    char dtype_str[12];     /* as in the file, e.g. "BF16", "I64" */
    int ndim;               /* 0..PSW_ST_MAX_DIMS */
    size_t shape[PSW_ST_MAX_DIMS];
    size_t numel;           /* product of shape (1 for a scalar) */
    size_t nbytes;          /* numel x element size */
    const unsigned char *data; /* into the file mapping; not aligned */
    int file;               /* index into psw_safetensors.files */
} psw_st_tensor;

typedef struct psw_st_file {
    char *path;       /* owned */
    void *map;        /* read-only mapping, NULL when the file is empty */
    size_t size;      /* bytes */
} psw_st_file;

typedef struct psw_safetensors {
    psw_st_file *files;     /* owned, n_files */
    int n_files;
    psw_st_tensor *tensors; /* owned, sorted by name */
    size_t n_tensors;
    char *source;           /* owned: the file or index path, for messages */
} psw_safetensors;

/* Opens one .safetensors file. On failure st is left closed (safe to psw_st_close).
 * Errors: PSW_ERR_IO (open/stat/mmap), PSW_ERR_FORMAT (any layout problem),
 * PSW_ERR_NOMEM. */
psw_status psw_st_open_file(psw_safetensors *st, const char *path, psw_err *err);
/* Opens the shards listed in an index.json ("weight_map": {tensor: file}; files relative to the
 * index's directory, plain names only). Each tensor must be in the file the index names; a
 * shard tensor not in the index, or a name in two shards, is PSW_ERR_FORMAT. */
psw_status psw_st_open_index(psw_safetensors *st, const char *index_path, psw_err *err);
/* DIR/model.safetensors if present, else DIR/model.safetensors.index.json; neither is
 * PSW_ERR_IO naming both. */
psw_status psw_st_open_dir(psw_safetensors *st, const char *dir, psw_err *err);
void psw_st_close(psw_safetensors *st);

/* The tensor named `name`, or NULL. */
const psw_st_tensor *psw_st_find(const psw_safetensors *st, const char *name);
/* Path of the file holding t. */
const char *psw_st_file_of(const psw_safetensors *st, const psw_st_tensor *t);
/* Converts t to fp32 into out (t->numel floats, caller-owned).
 * Errors: PSW_ERR_UNSUPPORTED for dtypes other than F32/BF16/F16. */
psw_status psw_st_read_f32(const psw_safetensors *st, const psw_st_tensor *t, float *out,
                           psw_err *err);
/* "F32", "BF16", "F16" (PSW_DTYPE_OTHER: "other"). */
const char *psw_dtype_name(psw_dtype d);

/* Scalar conversions (exposed for tests and the writer). */
float psw_bf16_to_f32(uint16_t h);
uint16_t psw_f32_to_bf16(float f); /* round to nearest, ties to even; NaN stays NaN */
float psw_f16_to_f32(uint16_t h);  /* IEEE half incl. subnormals, inf, NaN */

/* One tensor to write. Borrowed. */
typedef struct psw_st_write_tensor {
    const char *name;
    int ndim;
    size_t shape[PSW_ST_MAX_DIMS];
    const float *data; /* product(shape) floats */
} psw_st_write_tensor;

/* Writes tensors (in the given order) into dir as `dtype` (F32 or BF16):
 * DIR/model.safetensors when max_shard_bytes == 0 or everything fits in one shard, else
 * DIR/model-0000i-of-0000n.safetensors plus DIR/model.safetensors.index.json (a tensor larger
 * than max_shard_bytes gets a shard of its own). Removes a stale model.safetensors / index and
 * its shards from an earlier save so HF cannot pick up old weights. Files are written to a
 * temporary name and renamed. dir must exist.
 * Errors: PSW_ERR_IO, PSW_ERR_INVALID_ARG (bad dtype, duplicate name), PSW_ERR_NOMEM. */
psw_status psw_st_write(const char *dir, const psw_st_write_tensor *tensors, size_t n,
                        psw_dtype dtype, size_t max_shard_bytes, psw_err *err);

#endif
