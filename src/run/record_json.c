/* record_json.c: a result record as JSON, the line `prunesweep recover` prints. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#include "psw/eval_metrics.h"
#include "psw/run.h"

static void add_number(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

cJSON *psw_run_record_json(const psw_run_record *rec) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char id[17];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)rec->config_id);
    cJSON_AddStringToObject(o, "config_id", id);
    cJSON_AddStringToObject(o, "kind", psw_row_kind_name(rec->kind));
    add_number(o, "retention", rec->retention);
    cJSON_AddStringToObject(o, "loss", psw_loss_kind_name(rec->loss));
    add_number(o, "data_size", (double)rec->data_size);
    add_number(o, "seed", (double)rec->seed);
    cJSON_AddStringToObject(o, "status", psw_run_status_name(rec->status));
    cJSON_AddStringToObject(o, "message", rec->message);
    cJSON *metrics = psw_eval_metrics_json(&rec->metrics);
    if (metrics) cJSON_AddItemToObject(o, "metrics", metrics);
    add_number(o, "mlp_neurons_kept", (double)rec->mlp_neurons_kept);
    add_number(o, "mlp_neurons_total", (double)rec->mlp_neurons_total);
    add_number(o, "params_total", (double)rec->params_total);
    add_number(o, "params_mlp", (double)rec->params_mlp);
    add_number(o, "params_nonembed", (double)rec->params_nonembed);
    add_number(o, "retention_mlp", rec->retention_mlp);
    add_number(o, "retention_nonembed", rec->retention_nonembed);
    add_number(o, "retention_total", rec->retention_total);
    add_number(o, "train_steps", (double)rec->train_steps);
    add_number(o, "final_loss", rec->final_loss);
    add_number(o, "seconds_prune", rec->seconds_prune);
    add_number(o, "seconds_train", rec->seconds_train);
    add_number(o, "seconds_eval", rec->seconds_eval);
    cJSON *curve = cJSON_AddArrayToObject(o, "loss_curve");
    for (int i = 0; curve && i < rec->n_curve; i++)
        cJSON_AddItemToArray(curve, cJSON_CreateNumber(rec->loss_curve[i]));
    return o;
}
