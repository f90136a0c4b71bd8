/* norm_rope.c: RMSNorm and rotate-half rotary embeddings. */
#include <math.h>

#include "psw/kernels.h"
#include "kernels/vecmath.h"
#include "kernels/pool_internal.h"

/* sum_i a[i] * b[i] * c[i] in double (c NULL: sum a[i] * b[i]), in PSW_LANES partial sums
 * combined in a fixed order. */
PSW_VEC_INLINE double dot3(const float *a, const float *b, const float *c, int n) {
    double acc[PSW_LANES] = {0};
    int i = 0;
    if (c) {
        for (; i + PSW_LANES <= n; i += PSW_LANES)
            for (int j = 0; j < PSW_LANES; j++)
                acc[j] += (double)a[i + j] * (double)b[i + j] * (double)c[i + j];
        for (; i < n; i++) acc[i % PSW_LANES] += (double)a[i] * (double)b[i] * (double)c[i];
    } else {
        for (; i + PSW_LANES <= n; i += PSW_LANES)
            for (int j = 0; j < PSW_LANES; j++) acc[j] += (double)a[i + j] * (double)b[i + j];
        for (; i < n; i++) acc[i % PSW_LANES] += (double)a[i] * (double)b[i];
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

PSW_VEC_CLONES
static void rmsnorm_rows(float *out, float *rstd, const float *inp, const float *w, int n0, int n1,
                         int C, float eps) {
    for (int n = n0; n < n1; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double ss = dot3(x, x, NULL, C);
        float r = (float)(1.0 / sqrt(ss / C + (double)eps));
        for (int i = 0; i < C; i++) o[i] = w[i] * (x[i] * r);
        rstd[n] = r;
    }
}

/* Rows per task: about NORM_CHUNK floats, whatever the thread count (each row is computed
 * alone, so the split never changes a result). */
#define NORM_CHUNK 16384

typedef struct norm_job {
    float *out, *rstd, *dinp, *dw;
    const float *inp, *w, *dout, *crstd;
    int N, C, rows, row_tasks;
    float eps;
} norm_job;

static int rows_per_task(int C) { return C >= NORM_CHUNK ? 1 : NORM_CHUNK / C; }

static void rmsnorm_forward_task(void *ctx, int task, int thread) {
    const norm_job *j = ctx;
    int n0 = task * j->rows, n1 = n0 + j->rows < j->N ? n0 + j->rows : j->N;
    rmsnorm_rows(j->out, j->rstd, j->inp, j->w, n0, n1, j->C, j->eps);
    (void)thread;
}

void psw_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                         float eps) {
    norm_job j = {.out = out, .rstd = rstd, .inp = inp, .w = w, .N = N, .C = C, .eps = eps,
                  .rows = rows_per_task(C)};
    psw_pool_run(psw_chunks((size_t)N, (size_t)j.rows), rmsnorm_forward_task, &j);
}

/* Columns of dw are summed over rows in blocks so that the double accumulators stay on the
 * stack and every row is read contiguously. */
#define DW_BLOCK 64

PSW_VEC_CLONES
static void rmsnorm_dinp_rows(float *dinp, const float *dout, const float *inp, const float *w,
                              const float *rstd, int n0, int n1, int C) {
    for (int n = n0; n < n1; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        double dot = dot3(w, dy, x, C); /* sum_j w_j dy_j x_j */
        float r = rstd[n];
        float c = (float)(dot * (double)r * (double)r * (double)r / C);
        for (int i = 0; i < C; i++) dx[i] += r * w[i] * dy[i] - c * x[i];
    }
}

/* One block of DW_BLOCK columns of dw, summed over all rows in row order. */
PSW_VEC_CLONES
static void rmsnorm_dw_block(float *dw, const float *dout, const float *inp, const float *rstd,
                             int N, int C, int i0) {
    int i1 = i0 + DW_BLOCK < C ? i0 + DW_BLOCK : C;
    double acc[DW_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        double r = rstd[n];
        for (int i = i0; i < i1; i++) acc[i - i0] += (double)dy[i] * (double)x[i] * r;
    }
    for (int i = i0; i < i1; i++) dw[i] += (float)acc[i - i0];
}

/* Tasks 0..row_tasks-1 are row chunks of dinp, the rest column blocks of dw. */
static void rmsnorm_backward_task(void *ctx, int task, int thread) {
    const norm_job *j = ctx;
    if (task < j->row_tasks) {
        int n0 = task * j->rows, n1 = n0 + j->rows < j->N ? n0 + j->rows : j->N;
        rmsnorm_dinp_rows(j->dinp, j->dout, j->inp, j->w, j->crstd, n0, n1, j->C);
    } else {
        rmsnorm_dw_block(j->dw, j->dout, j->inp, j->crstd, j->N, j->C,
                         (task - j->row_tasks) * DW_BLOCK);
    }
    (void)thread;
}

void psw_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int C) {
    norm_job j = {.dinp = dinp, .dw = dw, .dout = dout, .inp = inp, .w = w, .crstd = rstd,
                  .N = N, .C = C, .rows = rows_per_task(C)};
    j.row_tasks = dinp ? psw_chunks((size_t)N, (size_t)j.rows) : 0;
    int dw_tasks = dw ? psw_chunks((size_t)C, DW_BLOCK) : 0;
    psw_pool_run(j.row_tasks + dw_tasks, rmsnorm_backward_task, &j);
}

void psw_rope_table(float *cos_t, float *sin_t, int T, int HD, double theta) {
    int half = HD / 2;
    for (int i = 0; i < half; i++) {
        double inv_freq = pow(theta, -2.0 * i / HD);
        for (int t = 0; t < T; t++) {
            double a = t * inv_freq;
            cos_t[(size_t)t * half + i] = (float)cos(a);
            sin_t[(size_t)t * half + i] = (float)sin(a);
        }
    }
}

/* Rotates rows r0..r1-1; row r is at position pos[r] % T, or r % T when pos is NULL (the
 * (B*T) rows of a batch). */
PSW_VEC_CLONES
static void rope_rows(float *x, const float *cos_t, const float *sin_t, const int64_t *pos,
                      int r0, int r1, int T, int NX, int HD, float sign) {
    int half = HD / 2;
    for (int r = r0; r < r1; r++) {
        int t = pos ? (int)(pos[r] % T) : r % T;
        const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
        for (int h = 0; h < NX; h++) {
            float *v = x + ((size_t)r * NX + h) * HD;
            for (int i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[i + half], si = sign * s[i];
                v[i] = x1 * c[i] - x2 * si;
                v[i + half] = x2 * c[i] + x1 * si;
            }
        }
    }
}

typedef struct rope_job {
    float *x;
    const float *cos_t, *sin_t;
    const int64_t *pos;
    int R, T, NX, HD, rows;
    float sign;
} rope_job;

static void rope_task(void *ctx, int task, int thread) {
    const rope_job *j = ctx;
    int r0 = task * j->rows, r1 = r0 + j->rows < j->R ? r0 + j->rows : j->R;
    rope_rows(j->x, j->cos_t, j->sin_t, j->pos, r0, r1, j->T, j->NX, j->HD, j->sign);
    (void)thread;
}

static void rope_apply(float *x, const float *cos_t, const float *sin_t, const int64_t *pos,
                       int R, int T, int NX, int HD, float sign) {
    rope_job j = {.x = x, .cos_t = cos_t, .sin_t = sin_t, .pos = pos, .R = R, .T = T, .NX = NX,
                  .HD = HD, .sign = sign, .rows = rows_per_task(NX * HD)};
    psw_pool_run(psw_chunks((size_t)j.R, (size_t)j.rows), rope_task, &j);
}

void psw_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int NX,
                      int HD) {
    rope_apply(x, cos_t, sin_t, NULL, B * T, T, NX, HD, 1.0f);
}

void psw_rope_forward_at(float *x, const float *cos_t, const float *sin_t, const int64_t *pos,
                         int P, int T, int NX, int HD) {
    rope_apply(x, cos_t, sin_t, pos, P, T, NX, HD, 1.0f);
}

void psw_rope_backward_at(float *dx, const float *cos_t, const float *sin_t, const int64_t *pos,
                          int P, int T, int NX, int HD) {
    rope_apply(dx, cos_t, sin_t, pos, P, T, NX, HD, -1.0f);
}

void psw_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int NX,
                       int HD) {
    /* The rotation is orthogonal: its transpose is the rotation by the negative angle. */
    rope_apply(dx, cos_t, sin_t, NULL, B * T, T, NX, HD, -1.0f);
}
