/* cache_only.c: `prunesweep run SPEC --only-cache`: rank 0 builds the teacher-logits cache the
 * kl/mix configurations read, so a later sweep finds it ready; no results file is touched.
 * Used by slurm/prepare.sbatch to do the one-off work before the sweep job. */
#include <stdio.h>

#include "psw/teacher_cache.h"
#include "sweep_internal.h"

static size_t cache_readers(const psw_spec *spec) {
    size_t n = 0;
    for (size_t i = 0; i < spec->grid.n_configs; i++) {
        psw_loss_kind l = spec->grid.configs[i].loss;
        n += l == PSW_LOSS_KL || l == PSW_LOSS_MIX;
    }
    return n;
}

psw_status psw_sweep_cache_only(const psw_sweep_env *env, psw_err *err) {
    const psw_spec *spec = env->spec;
    size_t readers = cache_readers(spec);
    if (readers == 0) {
        PSW_LOG_INFO("sweep: --only-cache: no kl/mix configuration in %s reads the teacher "
                     "cache; nothing to build",
                     spec->source);
        return PSW_OK;
    }
    psw_run_context ctx;
    psw_status st = psw_run_context_open(&ctx, spec, env->cache_dir, env->threads, err);
    if (st != PSW_OK) return st;

    psw_teacher_cache *tc = NULL;
    psw_err why = {0};
    st = psw_teacher_cache_open(ctx.cache_path, ctx.cache_fingerprint, ctx.train.prompts.n,
                                ctx.teacher.cfg.vocab_size, &tc, &why);
    if (st == PSW_OK) {
        psw_teacher_cache_close(tc);
        PSW_LOG_INFO("sweep: --only-cache: teacher cache %s is already built and valid; nothing "
                     "to do",
                     ctx.cache_path);
        goto done;
    }
    if (psw_sweep_stop_requested()) {
        st = PSW_FAIL(err, PSW_ERR_INTERRUPTED,
                      "stopped by a signal before the teacher cache %s was built; rerun to build "
                      "it",
                      ctx.cache_path);
        goto done;
    }
    PSW_LOG_INFO("sweep: --only-cache: building the teacher cache %s (%zu train prompts, read by "
                 "%zu kl/mix configurations; %d thread%s)",
                 ctx.cache_path, ctx.train.prompts.n, readers, env->threads,
                 env->threads == 1 ? "" : "s");
    /* The build is one long call: a stop signal gives it the grace, then the process exits 3
     * (the temp file + rename leaves no partial cache behind). */
    psw_sweep_set_serial_grace(env->opt->grace_seconds);
    psw_task task = {.kind = PSW_TASK_TEACHER_CACHE};
    task.config.retention = 1.0;
    psw_run_output out;
    double t0 = psw_now();
    st = psw_run_task(&ctx, &task, env->rank, &out, err);
    psw_sweep_cancel_serial_grace();
    psw_run_output_free(&out);
    if (st != PSW_OK) goto done;
    /* Check it the way the sweep will open it, so a success here means the sweep reuses it. */
    st = psw_teacher_cache_open(ctx.cache_path, ctx.cache_fingerprint, ctx.train.prompts.n,
                                ctx.teacher.cfg.vocab_size, &tc, err);
    if (st != PSW_OK) goto done;
    psw_teacher_cache_close(tc);
    PSW_LOG_INFO("sweep: teacher cache built in %.1f s: %s", psw_now() - t0, ctx.cache_path);
done:
    psw_run_context_close(&ctx);
    return st;
}
