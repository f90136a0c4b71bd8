/* h5_errors.c: the HDF5 error-stack reader shared by the results writer and reader. */
#include <stdio.h>
#include <string.h>

#include "results/h5_internal.h"

typedef struct h5_errinfo {
    bool have;
    hid_t maj, min;
    char text[360];
} h5_errinfo;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    h5_errinfo *info = data;
    if (n == 0) { /* H5E_WALK_UPWARD starts at the innermost (most specific) entry */
        info->have = true;
        info->maj = e->maj_num;
        info->min = e->min_num;
        char desc[292];
        snprintf(desc, sizeof desc, "%s", e->desc ? e->desc : "?");
        /* sec2 write errors embed "time = <ctime>\n, " (with a newline): drop it, and keep the
         * message on one line. */
        char *t = strstr(desc, "time = ");
        char *after = t ? strstr(t, ", ") : NULL;
        if (t && after) memmove(t, after + 2, strlen(after + 2) + 1);
        for (char *c = desc; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
        snprintf(info->text, sizeof info->text, "%.64s: %s", e->func_name ? e->func_name : "?",
                 desc);
    }
    return 0;
}

psw_status psw_h5_fail(psw_err *err, psw_status fallback, const char *path, const char *what) {
    h5_errinfo info = {0};
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &info) < 0 || !info.have)
        snprintf(info.text, sizeof info.text, "no detail on the HDF5 error stack");
    H5Eclear2(H5E_DEFAULT);
    psw_status s = fallback;
    if (info.have) {
        if (info.min == H5E_NOTHDF5 || info.min == H5E_TRUNCATED || info.min == H5E_BADFILE)
            s = PSW_ERR_FORMAT;
        else if (info.maj == H5E_IO || info.maj == H5E_VFL || info.min == H5E_CANTOPENFILE ||
                 info.min == H5E_WRITEERROR || info.min == H5E_READERROR ||
                 info.min == H5E_CANTLOCKFILE)
            s = PSW_ERR_IO;
    }
    return PSW_FAIL(err, s, "%s: %s: %s", path, what, info.text);
}


void psw_h5_close_id(hid_t *id) {
    if (*id >= 0) {
        H5Idec_ref(*id);
        *id = H5I_INVALID_HID;
    }
}
