#!/usr/bin/python3
"""plot.py RESULTS.h5 --out DIR [--reliability SEL ...] [--bootstrap B] [--bootstrap-seed S]

Figures of a prunesweep results file, each as DIR/NAME.png and DIR/NAME.pdf:
  accuracy_vs_retention   accuracy vs retention, CE vs KL, mean and 95% t-CI over seeds, one panel
                          per data size; teacher (dashed) and unrecovered pruned model (dotted)
  kl_minus_ce             KL − CE accuracy per retention and data size, paired by seed and example,
                          percentile bootstrap 95% CI over seeds and examples
  uncertainty_vs_data_size  entropy, ECE, NLL and Brier vs data size, one line per loss and
                          retention (mean and 95% t-CI over seeds); teacher dashed
  reliability             reliability diagrams (per-bin accuracy vs confidence, pooled over seeds)

--reliability SEL chooses the diagrams (repeatable): "teacher", "unrecovered:RET" or
"LOSS:RET:SIZE" (e.g. kl:0.5:1000). Default: the teacher, and at the lowest retention the
unrecovered model and CE and KL at the largest data size.

The outcome of a configuration is the last row of its config id; only ok outcomes are plotted,
and the others are counted in each figure's caption line. Works on a file a sweep is still
writing (SWMR read). Exit status: 0, 1 when the file cannot be read, 2 on usage errors.
"""

import argparse
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from psw_results import Results, ResultsError, fmt_retention, mean_std_ci  # noqa: E402

LOSS_STYLE = {"ce": dict(color="tab:blue", marker="o", label="CE (L2PFT)"),
              "kl": dict(color="tab:red", marker="s", label="KL (L2PSD)"),
              "mix": dict(color="tab:green", marker="^", label="mix")}
LOSS_LINE = {"ce": "-", "kl": "--", "mix": ":"}


def style(loss):
    return LOSS_STYLE.get(loss, dict(color="black", marker="x", label=loss))


def save(fig, out, name, written):
    for ext in ("png", "pdf"):
        path = os.path.join(out, "%s.%s" % (name, ext))
        fig.savefig(path, dpi=130 if ext == "png" else None, bbox_inches="tight")
        written.append(path)
    plt.close(fig)


def caption(res):
    bad = res.not_ok()
    txt = "%s: %d ok outcomes" % (res.name or os.path.basename(res.path),
                                  sum(1 for d in res.outcomes if d["status"] == "ok"))
    if bad:
        txt += "; not plotted: %d failed, %d diverged" % (
            sum(1 for d in bad if d["status"] == "failed"),
            sum(1 for d in bad if d["status"] == "diverged"))
    return txt


def empty(ax, text="no finished configurations yet"):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def errbar(ax, xs, stats, **kw):
    """Plots mean with 95% CI bars; a point with one seed gets no bar."""
    xs = np.asarray(xs, dtype=float)
    mean = np.array([s[1] for s in stats])
    lo = np.array([s[3] for s in stats])
    hi = np.array([s[4] for s in stats])
    yerr = np.vstack([np.where(np.isnan(lo), 0, mean - lo), np.where(np.isnan(hi), 0, hi - mean)])
    keep = ~np.isnan(mean) & np.isfinite(mean)
    if keep.any():
        ax.errorbar(xs[keep], mean[keep], yerr=yerr[:, keep], capsize=3, **kw)


def grid_axes(n, width=4.0, height=3.2):
    cols = min(n, 4)
    rows = int(math.ceil(n / cols))
    fig, axs = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axs.flat[n:]:
        ax.set_visible(False)
    return fig, list(axs.flat[:n])


def fig_accuracy(res, out, written):
    rets, losses, sizes = res.axes()
    teacher, unrec = res.teacher(), res.unrecovered()
    fig, axs = grid_axes(max(1, len(sizes)))
    if not sizes:
        empty(axs[0])
    for ax, size in zip(axs, sizes):
        for loss in losses:
            st = [mean_std_ci([d["accuracy"] for d in res.cell(r, loss, size)]) for r in rets]
            errbar(ax, rets, st, linestyle="-", **style(loss))
        if teacher:
            ax.axhline(teacher["accuracy"], color="black", linestyle="--", linewidth=1,
                       label="teacher (unpruned)")
        if unrec:
            ax.plot([d["retention"] for d in unrec], [d["accuracy"] for d in unrec], color="gray",
                    linestyle=":", marker=".", label="unrecovered")
        ax.set_title("data size %d" % size)
        ax.set_xlabel("MLP retention")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=8)
    fig.suptitle("Accuracy vs retention (mean, 95% CI over seeds)\n" + caption(res), fontsize=10)
    fig.tight_layout()
    save(fig, out, "accuracy_vs_retention", written)


def fig_diff(res, out, written, n_boot, seed):
    rets, losses, sizes = res.axes()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plotted = False
    if "kl" in losses and "ce" in losses and rets:
        span = (max(rets) - min(rets)) or 1.0
        offs = np.linspace(-0.012, 0.012, len(sizes)) * span if len(sizes) > 1 else [0.0]
        cmap = plt.get_cmap("viridis")
        for j, size in enumerate(sizes):
            ps = [res.paired_diff(r, size, n_boot=n_boot, seed=seed) for r in rets]
            xs = np.array(rets) + offs[j]
            d = np.array([p["diff"] for p in ps])
            lo = np.array([p["lo"] for p in ps])
            hi = np.array([p["hi"] for p in ps])
            keep = ~np.isnan(d)
            if keep.any():
                plotted = True
                ax.errorbar(xs[keep], d[keep], yerr=np.vstack([d - lo, hi - d])[:, keep], capsize=3,
                            marker="o", color=cmap(j / max(1, len(sizes) - 1)),
                            label="data size %d" % size)
    if plotted:
        ax.axhline(0, color="black", linewidth=0.8)
        ax.legend(fontsize=8)
    else:
        empty(ax, "no seed with both CE and KL finished yet")
    ax.set_xlabel("MLP retention")
    ax.set_ylabel("accuracy KL − CE")
    ax.grid(alpha=0.3)
    ax.set_title("KL − CE accuracy, paired by seed and example\n(bootstrap 95%% CI, B = %d)\n%s"
                 % (n_boot, caption(res)), fontsize=10)
    fig.tight_layout()
    save(fig, out, "kl_minus_ce", written)


def fig_uncertainty(res, out, written):
    rets, losses, sizes = res.axes()
    teacher = res.teacher()
    metrics = [("entropy", "entropy (nats)"), ("ece", "ECE"), ("nll", "NLL"), ("brier", "Brier")]
    fig, axs = plt.subplots(2, 2, figsize=(10, 7.5), squeeze=False)
    cmap = plt.get_cmap("plasma")
    for ax, (m, label) in zip(axs.flat, metrics):
        if not sizes:
            empty(ax)
        for i, r in enumerate(rets):
            color = cmap(0.85 * i / max(1, len(rets) - 1))
            for loss in losses:
                st = [mean_std_ci([d[m] for d in res.cell(r, loss, s)]) for s in sizes]
                errbar(ax, sizes, st, color=color, linestyle=LOSS_LINE.get(loss, "-"),
                       marker=style(loss)["marker"], label="%s r=%s" % (loss, fmt_retention(r)))
        if teacher and math.isfinite(teacher[m]):
            ax.axhline(teacher[m], color="black", linestyle="--", linewidth=1, label="teacher")
        if sizes and min(sizes) > 0:
            ax.set_xscale("log")
        ax.set_xlabel("data size (recovery examples)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    handles, labels = axs[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle("Uncertainty vs data size (mean, 95% CI over seeds; line style = loss, "
                 "colour = retention)\n" + caption(res), fontsize=10)
    fig.tight_layout()
    save(fig, out, "uncertainty_vs_data_size", written)


def parse_selection(text):
    parts = text.split(":")
    try:
        if parts == ["teacher"]:
            return ("teacher",)
        if len(parts) == 2 and parts[0] == "unrecovered":
            return ("unrecovered", float(parts[1]))
        if len(parts) == 3:
            return ("recovered", parts[0], float(parts[1]), int(parts[2]))
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        "'%s': want teacher, unrecovered:RET or LOSS:RET:SIZE (e.g. kl:0.5:1000)" % text)


def default_selection(res):
    sel = [("teacher",)]
    rets, losses, sizes = res.axes()
    unrec = res.unrecovered()
    low = min(rets) if rets else (unrec[0]["retention"] if unrec else None)
    if low is not None:
        sel.append(("unrecovered", low))
    if rets and sizes:
        for loss in losses:
            sel.append(("recovered", loss, low, max(sizes)))
    return sel


def select_rows(res, sel):
    if sel[0] == "teacher":
        t = res.teacher()
        return ([t] if t else []), "teacher"
    if sel[0] == "unrecovered":
        return ([d for d in res.unrecovered() if math.isclose(d["retention"], sel[1])],
                "unrecovered r=%s" % fmt_retention(sel[1]))
    _, loss, r, size = sel
    rows = [d for d in res.ok("recovered") if d["loss"] == loss and d["data_size"] == size
            and math.isclose(d["retention"], r)]
    return rows, "%s r=%s n=%d (%d seeds)" % (loss, fmt_retention(r), size, len(rows))


def fig_reliability(res, out, written, selections):
    sels = selections or default_selection(res)
    fig, axs = grid_axes(len(sels), width=3.4, height=3.4)
    for ax, sel in zip(axs, sels):
        rows, title = select_rows(res, sel)
        ax.plot([0, 1], [0, 1], color="gray", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(title, fontsize=9)
        if not rows:
            empty(ax, "no ok outcome")
            continue
        count, conf, acc, ece = res.reliability(rows)
        nb = len(count)
        edges = np.linspace(0, 1, nb + 1)
        filled = count > 0
        ax.bar(edges[:-1][filled], acc[filled], width=1.0 / nb, align="edge", alpha=0.7,
               edgecolor="black", linewidth=0.5, label="accuracy")
        ax.plot(conf[filled], acc[filled], "k.", markersize=4)
        ax.text(0.04, 0.92, "ECE %.3f\nn %d" % (ece, int(count.sum())), transform=ax.transAxes,
                fontsize=8, va="top")
    fig.suptitle("Reliability (pooled over seeds)\n" + caption(res), fontsize=10)
    fig.tight_layout()
    save(fig, out, "reliability", written)


def main(argv):
    ap = argparse.ArgumentParser(prog="plot.py", description=__doc__.split("\n\n")[1])
    ap.add_argument("results", help="the sweep's HDF5 results file (may be live)")
    ap.add_argument("--out", required=True, help="output directory (created if missing)")
    ap.add_argument("--reliability", action="append", type=parse_selection, default=[],
                    metavar="SEL", help="teacher | unrecovered:RET | LOSS:RET:SIZE (repeatable)")
    ap.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default 2000)")
    ap.add_argument("--bootstrap-seed", type=int, default=0, help="bootstrap RNG seed (default 0)")
    args = ap.parse_args(argv)
    if args.bootstrap < 1:
        ap.error("--bootstrap must be >= 1")
    try:
        res = Results(args.results)
    except ResultsError as e:
        print("plot.py: error: %s" % e, file=sys.stderr)
        return 1
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        print("plot.py: error: %s: cannot create the output directory: %s" % (args.out, e.strerror),
              file=sys.stderr)
        return 1
    written = []
    try:
        fig_accuracy(res, args.out, written)
        fig_diff(res, args.out, written, args.bootstrap, args.bootstrap_seed)
        fig_uncertainty(res, args.out, written)
        fig_reliability(res, args.out, written, args.reliability)
    finally:
        res.close()
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
