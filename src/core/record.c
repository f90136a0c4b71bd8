/* record.c: names of the enums stored in results files. */
#include "psw/record.h"

const char *psw_run_status_name(psw_run_status s) {
    switch (s) {
    case PSW_RUN_PENDING: return "pending";
    case PSW_RUN_OK: return "ok";
    case PSW_RUN_DIVERGED: return "diverged";
    case PSW_RUN_FAILED: return "failed";
    }
    return "unknown";
}

const char *psw_loss_kind_name(psw_loss_kind k) {
    switch (k) {
    case PSW_LOSS_CE: return "ce";
    case PSW_LOSS_KL: return "kl";
    case PSW_LOSS_MIX: return "mix";
    case PSW_LOSS_NONE: return "none";
    }
    return "unknown";
}

const char *psw_row_kind_name(psw_row_kind k) {
    switch (k) {
    case PSW_ROW_RECOVERED: return "recovered";
    case PSW_ROW_TEACHER: return "teacher";
    case PSW_ROW_UNRECOVERED: return "unrecovered";
    }
    return "unknown";
}
