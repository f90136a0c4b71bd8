/* h5_internal.h: private to src/results: the HDF5 error-stack reader shared by the writer
 * (results.c) and the reader (results_read.c). Only src/results includes <hdf5.h>. */
#ifndef PSW_H5_INTERNAL_H
#define PSW_H5_INTERNAL_H

#include <hdf5.h>

#include "psw/common.h"

/* Turns the HDF5 error stack into one line "PATH: WHAT: innermost-function: description" and a
 * status (PSW_ERR_FORMAT for not-HDF5/truncated/bad files, PSW_ERR_IO for I/O and locking,
 * otherwise fallback), then clears the stack. Must run right after the failing call: any later
 * HDF5 API call resets the error stack. */
psw_status psw_h5_fail(psw_err *err, psw_status fallback, const char *path, const char *what);

/* Releases an id if it is valid and sets it to H5I_INVALID_HID. */
void psw_h5_close_id(hid_t *id);

/* Reads the root attribute "simulated" (an integer; absent = 0) of an open results file:
 * *out is true when it is non-zero. Errors: PSW_ERR_FORMAT (not a scalar integer),
 * PSW_ERR_HDF5. */
psw_status psw_h5_read_simulated(const char *path, hid_t fid, bool *out, psw_err *err);

/* For functions with locals `st`, `err`, `path` and a `fail:` label. */
#define H5TRY(expr, what)                                                                          \
    do {                                                                                           \
        if ((expr) < 0) {                                                                          \
            st = psw_h5_fail(err, PSW_ERR_HDF5, path, (what));                                     \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

#endif
