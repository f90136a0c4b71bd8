/* results_writer.c: test helper for tests/cli/test_results_h5py.sh. Opens (or resumes) a
 * results file with the fixture metadata and obeys commands on stdin, one per line:
 *   append N   append the next N fixture rows (row j is fx_make(j)), then print "rows <count>"
 *   close      close the file, print "closed" and exit 0
 * On start it prints "open rows=<count> resumed=<0|1>". Every reply is flushed, so the driver
 * can read /runs with h5py (swmr=True) while this process keeps the file open.
 * Errors go to stderr as one line; exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_fixture.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: psw_results_writer RESULTS.h5\n");
        return 2;
    }
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    if (psw_results_open(argv[1], &meta, &r, &err) != PSW_OK) {
        fprintf(stderr, "psw_results_writer: %s\n", err.msg);
        return 1;
    }
    printf("open rows=%lld resumed=%d\n", (long long)psw_results_row_count(r),
           psw_results_resumed(r) ? 1 : 0);
    fflush(stdout);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        long n = 0;
        if (sscanf(line, "append %ld", &n) == 1 && n > 0) {
            for (long k = 0; k < n; k++) {
                fx_row x;
                fx_make(&x, (int)psw_results_row_count(r));
                if (psw_results_append(r, &x.rec, &err) != PSW_OK) {
                    fprintf(stderr, "psw_results_writer: %s\n", err.msg);
                    psw_results_close(r, NULL);
                    return 1;
                }
            }
            printf("rows %lld\n", (long long)psw_results_row_count(r));
            fflush(stdout);
        } else if (strncmp(line, "close", 5) == 0) {
            break;
        } else {
            fprintf(stderr, "psw_results_writer: unknown command: %s", line);
            psw_results_close(r, NULL);
            return 1;
        }
    }
    if (psw_results_close(r, &err) != PSW_OK) {
        fprintf(stderr, "psw_results_writer: %s\n", err.msg);
        return 1;
    }
    printf("closed\n");
    fflush(stdout);
    return 0;
}
