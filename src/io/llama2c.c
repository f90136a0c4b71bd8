/* llama2c.c: llama2.c legacy checkpoint -> Llama psw_model (see llama2c.h). */
#include "psw/llama2c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LLAMA2C_MAGIC 0x616b3432u /* "ak42", the versioned exports */

/* Copies L blocks of `rows` x C rows, permuting rows within each head of width hd so that
 * dst row (h*hd + p*hd/2 + i) = src row (h*hd + 2*i + p). */
static void copy_rope_rows(float *dst, const float *src, int L, int n_heads, int hd, int C) {
    size_t row = (size_t)C, half = (size_t)hd / 2;
    for (int l = 0; l < L; l++)
        for (int h = 0; h < n_heads; h++) {
            size_t head = ((size_t)l * (size_t)n_heads + (size_t)h) * (size_t)hd;
            for (size_t i = 0; i < half; i++)
                for (size_t p = 0; p < 2; p++)
                    memcpy(dst + (head + p * half + i) * row, src + (head + 2 * i + p) * row,
                           row * sizeof(float));
        }
}

psw_status psw_llama2c_load(psw_model *m, const char *path, psw_err *err) {
    memset(m, 0, sizeof *m);
    psw_status st = PSW_OK;
    void *map = NULL;
    size_t size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat or not a regular file", path);
        close(fd);
        return st;
    }
    size = (size_t)sb.st_size;
    if (size < 28) {
        close(fd);
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s: file is %zu bytes, too short for the 28-byte llama2.c header", path,
                        size);
    }
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot mmap: %s", path, strerror(errno));
    int32_t h[7];
    memcpy(h, map, sizeof h);
    if ((uint32_t)h[0] == LLAMA2C_MAGIC) {
        st = PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                      "%s: versioned llama2.c export (magic ak42); only the legacy format is "
                      "supported",
                      path);
        goto fail;
    }
    const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                            "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++)
        if (h[i] == 0 || (h[i] < 0 && i != 5) || h[i] == INT32_MIN) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: header field %s = %d is not valid", path,
                          names[i], (int)h[i]);
            goto fail;
        }
    int C = h[0], H = h[1], L = h[2], NH = h[3], NKV = h[4], T = h[6];
    bool shared = h[5] > 0;
    int V = shared ? h[5] : -h[5];
    if (C % NH != 0 || NH % NKV != 0 || (C / NH) % 2 != 0) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: header dim %d, n_heads %d, n_kv_heads %d: dim must be a multiple of "
                      "n_heads, n_heads of n_kv_heads, and the head size even",
                      path, C, NH, NKV);
        goto fail;
    }
    int HD = C / NH;
    size_t KD = (size_t)NKV * (size_t)HD;
    /* Float count in file order, overflow-checked: sizes come from the file. */
    size_t sz[13];
    size_t c = (size_t)C, hh = (size_t)H, l = (size_t)L, v = (size_t)V;
    bool ok = psw_size_mul(v, c, &sz[0]) && psw_size_mul(l, c, &sz[1]) &&
              psw_size_mul(l * c, c, &sz[2]) && psw_size_mul(l * KD, c, &sz[3]) &&
              psw_size_mul(l * KD, c, &sz[4]) && psw_size_mul(l * c, c, &sz[5]) &&
              psw_size_mul(l, c, &sz[6]) && psw_size_mul(l * hh, c, &sz[7]) &&
              psw_size_mul(l * c, hh, &sz[8]) && psw_size_mul(l * hh, c, &sz[9]);
    sz[10] = c;
    ok = ok && psw_size_mul((size_t)T, (size_t)HD, &sz[11]);
    sz[11] = sz[11] / 2 * 2; /* real and imaginary parts, T*HD/2 each */
    sz[12] = shared ? 0 : sz[0];
    size_t total = 0;
    for (int i = 0; i < 13 && ok; i++) ok = psw_size_add(total, sz[i], &total);
    size_t want = 0;
    ok = ok && psw_size_mul(total, sizeof(float), &want) && psw_size_add(want, 28, &want);
    if (!ok) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: header sizes overflow", path);
        goto fail;
    }
    if (size != want) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: file is %zu bytes but the header (dim %d, hidden_dim %d, n_layers %d, "
                      "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d) implies %zu",
                      path, size, C, H, L, NH, NKV, (int)h[5], T, want);
        goto fail;
    }
    psw_model_config cfg = {
        .arch = PSW_ARCH_LLAMA,
        .hidden_size = C,
        .intermediate_size = H,
        .num_layers = L,
        .num_heads = NH,
        .num_kv_heads = NKV,
        .head_dim = HD,
        .vocab_size = V,
        .max_position_embeddings = T,
        .rope_theta = 10000.0f,
        .rms_norm_eps = 1e-5f,
        .tie_word_embeddings = shared,
        .bos_token_id = V > 1 ? 1 : -1,
        .eos_token_id = V > 2 ? 2 : -1,
        .pad_token_id = -1,
    };
    if ((st = psw_model_init(m, &cfg, err)) != PSW_OK) {
        psw_err_prefix(err, "%s: ", path);
        goto fail;
    }
    const float *src[13];
    const float *at = (const float *)((const char *)map + 28); /* page + 28: 4-byte aligned */
    for (int i = 0; i < 13; i++) {
        src[i] = at;
        at += sz[i];
    }
    float **p = m->params.ptr;
    memcpy(p[PSW_P_EMBED], src[0], sz[0] * sizeof(float));
    memcpy(p[PSW_P_ATTN_NORM], src[1], sz[1] * sizeof(float));
    copy_rope_rows(p[PSW_P_Q], src[2], L, NH, HD, C);
    copy_rope_rows(p[PSW_P_K], src[3], L, NKV, HD, C);
    memcpy(p[PSW_P_V], src[4], sz[4] * sizeof(float));
    memcpy(p[PSW_P_O], src[5], sz[5] * sizeof(float));
    memcpy(p[PSW_P_MLP_NORM], src[6], sz[6] * sizeof(float));
    memcpy(p[PSW_P_GATE], src[7], sz[7] * sizeof(float));
    memcpy(p[PSW_P_DOWN], src[8], sz[8] * sizeof(float));
    memcpy(p[PSW_P_UP], src[9], sz[9] * sizeof(float));
    memcpy(p[PSW_P_FINAL_NORM], src[10], sz[10] * sizeof(float));
    if (!shared) memcpy(p[PSW_P_LM_HEAD], src[12], sz[12] * sizeof(float));
    munmap(map, size);
    return PSW_OK;
fail:
    munmap(map, size);
    psw_model_free(m);
    return st;
}
