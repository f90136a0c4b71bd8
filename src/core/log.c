/* log.c: one-line human logs on stderr: "ISO-time rRANK cCONFIG LEVEL message".
 * Metrics never go through here; they go into result records. */
#include "psw/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

psw_log_level psw_log_current_level = PSW_LOG_LEVEL_INFO;
static int log_rank = -1;
static long long log_config = -1;

void psw_log_set_level(psw_log_level level) { psw_log_current_level = level; }

void psw_log_init_from_env(void) {
    const char *v = getenv("PSW_LOG_LEVEL");
    if (!v) return;
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(v, names[i]) == 0) psw_log_current_level = (psw_log_level)i;
}

void psw_log_set_context(int rank, long long config_id) {
    log_rank = rank;
    log_config = config_id;
}

void psw_log_write(psw_log_level level, const char *fmt, ...) {
    static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char rank[16] = "r-", config[32] = "c-";
    if (log_rank >= 0) snprintf(rank, sizeof rank, "r%d", log_rank);
    if (log_config >= 0) snprintf(config, sizeof config, "c%lld", log_config);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s %s %s\n", stamp, rank, config, tags[level], line);
}

void psw_progress_start(psw_progress *p, const char *label, const char *unit, long long total) {
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->start = psw_now();
    p->last_print = p->start;
    p->interval = 5.0;
}

void psw_progress_update(psw_progress *p, long long done) {
    double now = psw_now();
    bool final = done >= p->total;
    if (!final && now - p->last_print < p->interval) return;
    p->last_print = now;
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0.0;
    PSW_LOG_INFO("%s: %lld/%lld %s, %.1f %s/s, ETA %.0fs", p->label, done, p->total, p->unit,
                 rate, p->unit, eta);
}
