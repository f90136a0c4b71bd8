#!/usr/bin/python3
"""summary.py RESULTS.h5 [--csv] [--bootstrap B] [--bootstrap-seed S] [--watch SECONDS]

Markdown tables of a prunesweep results file: the reference rows (teacher, unrecovered), every
metric of the recovered configurations as mean ± std over seeds (n = seeds with an ok outcome),
the paired KL − CE accuracy differences with bootstrap 95% CIs, and every outcome that is not ok
(failed, diverged), which is never averaged. The outcome of a configuration is the last row of its
config id. --csv prints the same numbers as one long CSV table at full precision instead.

Works on a file a sweep is still writing (SWMR read); --watch reprints every SECONDS seconds.
Exit status: 0, 1 when the file cannot be read, 2 on usage errors.
"""

import argparse
import csv
import math
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from psw_results import (EXTRA, METRICS, Results, ResultsError, fmt_num,  # noqa: E402
                         fmt_retention, mean_std_ci)

TABLE_METRICS = METRICS + EXTRA


def cell_stats(res, retention, loss, size, metric):
    return mean_std_ci([d[metric] for d in res.cell(retention, loss, size)])


def pm(n, mean, std):
    if n == 0:
        return "—"
    if n == 1:
        return "%s (n=1)" % fmt_num(mean)
    return "%s ± %s (n=%d)" % (fmt_num(mean), fmt_num(std), n)


def markdown(res, args, out):
    w = out.write
    rets, losses, sizes = res.axes()
    n_ok = sum(1 for d in res.outcomes if d["status"] == "ok")
    n_div = sum(1 for d in res.outcomes if d["status"] == "diverged")
    n_fail = sum(1 for d in res.outcomes if d["status"] == "failed")
    expected = res.attrs.get("expected_rows")
    w("# prunesweep results: %s\n\n" % (res.name or os.path.basename(res.path)))
    w("- file: `%s` (%d rows, %d configurations with an outcome" % (res.path, res.n_rows,
                                                                     len(res.outcomes)))
    if expected is not None and int(expected) > 0:
        w(", %d expected" % int(expected))
    w(")\n- outcomes: %d ok, %d diverged, %d failed; %d earlier rows superseded by a re-run\n"
      % (n_ok, n_div, n_fail, res.superseded))
    w("- outcome = last row of each config id; only ok outcomes enter the tables, "
      "mean ± sample std over seeds\n\n")

    refs = ([("teacher", res.teacher())] if res.teacher() else []) + \
        [("unrecovered", d) for d in res.unrecovered()]
    w("## Reference rows\n\n")
    if refs:
        w("| kind | retention | " + " | ".join(METRICS) + " |\n")
        w("|---|---|" + "---|" * len(METRICS) + "\n")
        for kind, d in refs:
            w("| %s | %s | %s |\n" % (kind, fmt_retention(d["retention"]),
                                      " | ".join(fmt_num(d[m]) for m in METRICS)))
    else:
        w("(none finished yet)\n")
    w("\n")

    for metric in TABLE_METRICS:
        w("## %s\n\n" % metric)
        if not rets:
            w("(no recovered configurations yet)\n\n")
            continue
        w("| retention | data size | " + " | ".join(losses) + " |\n")
        w("|---|---|" + "---|" * len(losses) + "\n")
        for r in rets:
            for s in sizes:
                cells = []
                for loss in losses:
                    n, mean, std, _, _ = cell_stats(res, r, loss, s, metric)
                    cells.append(pm(n, mean, std))
                w("| %s | %d | %s |\n" % (fmt_retention(r), s, " | ".join(cells)))
        w("\n")

    if "kl" in losses and "ce" in losses:
        w("## KL − CE accuracy (paired by seed and example; bootstrap 95%% CI, B = %d)\n\n"
          % args.bootstrap)
        w("| retention | data size | seeds | examples | KL − CE | 95% CI |\n")
        w("|---|---|---|---|---|---|\n")
        for r in rets:
            for s in sizes:
                p = res.paired_diff(r, s, n_boot=args.bootstrap, seed=args.bootstrap_seed)
                ci = "—" if math.isnan(p["lo"]) else "[%s, %s]" % (fmt_num(p["lo"]), fmt_num(p["hi"]))
                w("| %s | %d | %d | %d | %s | %s |\n" % (fmt_retention(r), s, len(p["seeds"]),
                                                         p["n_examples"], fmt_num(p["diff"]), ci))
        w("\n")

    bad = res.not_ok()
    w("## Not ok (excluded from every mean)\n\n")
    if bad:
        w("| status | kind | retention | loss | data size | seed | message |\n")
        w("|---|---|---|---|---|---|---|\n")
        for d in bad:
            msg = d["message"].replace("|", "\\|")
            w("| %s | %s | %s | %s | %d | %d | %s |\n" % (d["status"], d["kind"],
                                                         fmt_retention(d["retention"]), d["loss"],
                                                         d["data_size"], d["seed"], msg))
    else:
        w("(none)\n")


def csv_out(res, args, out):
    wr = csv.writer(out, lineterminator="\n")
    wr.writerow(["section", "kind", "retention", "loss", "data_size", "seed", "metric", "n", "mean",
                 "std", "ci_low", "ci_high", "status", "message"])

    def num(x):
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x))

    refs = ([res.teacher()] if res.teacher() else []) + res.unrecovered()
    for d in refs:
        for m in METRICS:
            wr.writerow(["reference", d["kind"], num(d["retention"]), "", "", "", m, 1, num(d[m]),
                         "", "", "", d["status"], ""])
    rets, losses, sizes = res.axes()
    for r in rets:
        for loss in losses:
            for s in sizes:
                for m in TABLE_METRICS:
                    n, mean, std, lo, hi = cell_stats(res, r, loss, s, m)
                    wr.writerow(["recovered", "recovered", num(r), loss, s, "", m, n, num(mean),
                                 num(std), num(lo), num(hi), "", ""])
    if "kl" in losses and "ce" in losses:
        for r in rets:
            for s in sizes:
                p = res.paired_diff(r, s, n_boot=args.bootstrap, seed=args.bootstrap_seed)
                wr.writerow(["kl_minus_ce", "recovered", num(r), "kl-ce", s,
                             " ".join(str(x) for x in p["seeds"]), "accuracy", len(p["seeds"]),
                             num(p["diff"]), "", num(p["lo"]), num(p["hi"]), "", ""])
    for d in res.not_ok():
        wr.writerow(["not_ok", d["kind"], num(d["retention"]), d["loss"], d["data_size"], d["seed"],
                     "", "", "", "", "", "", d["status"], d["message"]])


def main(argv):
    ap = argparse.ArgumentParser(prog="summary.py", description=__doc__.split("\n\n")[1])
    ap.add_argument("results", help="the sweep's HDF5 results file (may be live)")
    ap.add_argument("--csv", action="store_true", help="print a long CSV table instead of markdown")
    ap.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default 2000)")
    ap.add_argument("--bootstrap-seed", type=int, default=0, help="bootstrap RNG seed (default 0)")
    ap.add_argument("--watch", type=float, default=0,
                    help="reread and reprint every SECONDS seconds until interrupted")
    args = ap.parse_args(argv)
    if args.bootstrap < 1:
        ap.error("--bootstrap must be >= 1")
    if args.watch < 0:
        ap.error("--watch must be >= 0")
    while True:
        try:
            res = Results(args.results)
        except ResultsError as e:
            print("summary.py: error: %s" % e, file=sys.stderr)
            return 1
        try:
            (csv_out if args.csv else markdown)(res, args, sys.stdout)
        finally:
            res.close()
        sys.stdout.flush()
        if not args.watch:
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0
        print()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `summary.py F | head` ends quietly
    sys.exit(main(sys.argv[1:]))
