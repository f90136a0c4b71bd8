"""Reading a prunesweep results file (layout: docs/results.md) for plot.py and summary.py.

Only Debian's h5py and numpy. The file is opened in SWMR-read mode, so it can be read while a
sweep is still appending to it, and also after its writer was killed (a plain read-only open
fails then). /runs is the commit record: rows of /probs past len(/runs) are leftovers of an
interrupted append and are ignored, and so are /runs rows whose status is "pending".

Outcome of a configuration: the LAST row of its config id (results.h: a failed row is kept as
history and the configuration is run again on resume; the new row is appended). Outcomes whose
status is not "ok" are listed separately and never averaged.
"""

import math

import h5py
import numpy as np

METRICS = ("accuracy", "entropy", "entropy_norm", "nll", "brier", "ece", "mce", "choice_mass")
EXTRA = ("final_loss", "train_steps", "seconds_train", "seconds_eval")

# Two-sided 95% quantiles of Student's t, df = 1..30 (standard tables); beyond 30 the
# Cornish-Fisher expansion below is within 1e-4 of the exact value.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
         2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
         2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)


def t975(df):
    """0.975 quantile of Student's t with df degrees of freedom (df >= 1)."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_std_ci(values):
    """(n, mean, sample std (ddof 1), ci_low, ci_high) of the finite-or-inf values; the 95% CI is
    mean +- t * std / sqrt(n). std and the CI are NaN for n < 2; everything is NaN for n == 0."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    n = len(v)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(np.mean(v))
    if n < 2:
        return n, mean, math.nan, math.nan, math.nan
    std = float(np.std(v, ddof=1))
    half = t975(n - 1) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


class ResultsError(Exception):
    pass


def _enum_names(dtype, field):
    mapping = h5py.check_enum_dtype(dtype[field])
    if mapping is None:
        raise ResultsError("/runs field '%s' is not an enum" % field)
    return {v: k for k, v in mapping.items()}


def _text(b):
    return b.decode("utf-8", "replace") if isinstance(b, (bytes, np.bytes_)) else str(b)


class Results:
    """Everything the scripts need from one results file, read at one moment.

    rows      list of dicts, one per committed /runs row (index = row number), pending rows left out
    outcomes  list of dicts: the last row of each config id, in first-appearance order
    probs     (rows, examples, choices) float32, read lazily for the rows that need it
    gold      (examples,) int32, -1 = unlabeled
    """

    def __init__(self, path):
        self.path = path
        try:
            self.file = h5py.File(path, "r", swmr=True)
        except OSError as e:
            raise ResultsError("%s: cannot open as an HDF5 file (SWMR read): %s" % (path, e))
        f = self.file
        fmt = f.attrs.get("format")
        if fmt is None or _text(fmt) != "prunesweep-results/1":
            raise ResultsError("%s: not a prunesweep results file (format attribute %r)" %
                               (path, None if fmt is None else _text(fmt)))
        for name in ("runs", "probs", "test/gold"):
            if name not in f:
                raise ResultsError("%s: /%s is missing" % (path, name))
        runs = f["runs"]
        probs = f["probs"]
        # Refresh /runs first and /probs after: the writer writes a row's probabilities before
        # its /runs row, so every visible /runs row then has its probabilities visible too.
        runs.refresh()
        probs.refresh()
        self.attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}
        self.name = _spec_name(self.attrs.get("spec", ""))
        n = runs.shape[0]
        if probs.shape[0] < n:
            n = probs.shape[0]  # cannot happen with the writer's order; be safe
        data = runs[:n]
        self.probs_ds = probs
        self.gold = f["test/gold"][:].astype(np.int64)
        self.kind_names = _enum_names(runs.dtype, "kind")
        self.loss_names = _enum_names(runs.dtype, "loss")
        self.status_names = _enum_names(runs.dtype, "status")
        self.rows = []
        for i in range(n):
            r = data[i]
            status = self.status_names.get(int(r["status"]), "?")
            if status == "pending":
                continue
            d = {"row": i, "config_id": int(r["config_id"]),
                 "kind": self.kind_names.get(int(r["kind"]), "?"),
                 "retention": float(r["retention"]), "loss": self.loss_names.get(int(r["loss"]), "?"),
                 "data_size": int(r["data_size"]), "seed": int(r["seed"]), "status": status,
                 "message": _text(r["message"]), "host": _text(r["host"]),
                 "rel_count": np.array(r["rel_count"], dtype=np.int64),
                 "rel_mean_conf": np.array(r["rel_mean_conf"], dtype=np.float64),
                 "rel_accuracy": np.array(r["rel_accuracy"], dtype=np.float64)}
            for m in METRICS + EXTRA + ("retention_mlp", "retention_total", "n_labeled"):
                d[m] = float(r[m])
            self.rows.append(d)
        last = {}
        order = []
        for d in self.rows:
            if d["config_id"] not in last:
                order.append(d["config_id"])
            last[d["config_id"]] = d
        self.outcomes = [last[c] for c in order]
        self.n_rows = n
        self.superseded = len(self.rows) - len(self.outcomes)
        self._correct = {}

    def close(self):
        self.file.close()

    # ---- selections ----

    def ok(self, kind=None):
        return [d for d in self.outcomes if d["status"] == "ok" and (kind is None or d["kind"] == kind)]

    def not_ok(self):
        return [d for d in self.outcomes if d["status"] != "ok"]

    def axes(self):
        """Sorted retentions, losses and data sizes of recovered outcomes (any status)."""
        rec = [d for d in self.outcomes if d["kind"] == "recovered"]
        return (sorted({d["retention"] for d in rec}), sorted({d["loss"] for d in rec}),
                sorted({d["data_size"] for d in rec}))

    def cell(self, retention, loss, data_size):
        """Ok recovered outcomes of one (retention, loss, data size), sorted by seed."""
        return sorted((d for d in self.ok("recovered") if d["retention"] == retention
                       and d["loss"] == loss and d["data_size"] == data_size),
                      key=lambda d: d["seed"])

    def teacher(self):
        t = self.ok("teacher")
        return t[-1] if t else None

    def unrecovered(self):
        return sorted(self.ok("unrecovered"), key=lambda d: d["retention"])

    # ---- per-example correctness from /probs ----

    def correct(self, d):
        """(labeled examples,) bool: the row's argmax (ties -> lowest index, NaN never wins)
        equals gold."""
        i = d["row"]
        if i not in self._correct:
            p = np.asarray(self.probs_ds[i], dtype=np.float64)
            p = np.where(np.isnan(p), -np.inf, p)
            lab = self.gold >= 0
            self._correct[i] = np.argmax(p, axis=1)[lab] == self.gold[lab]
        return self._correct[i]

    def paired_diff(self, retention, data_size, a="kl", b="ce", n_boot=2000, seed=0):
        """a - b accuracy difference, paired by seed and example, with a percentile bootstrap 95%
        CI that resamples seeds and examples independently (a two-level bootstrap).
        Returns dict(seeds, n_examples, diff, lo, hi); diff NaN when no seed has both ok."""
        ca = {d["seed"]: d for d in self.cell(retention, a, data_size)}
        cb = {d["seed"]: d for d in self.cell(retention, b, data_size)}
        seeds = sorted(set(ca) & set(cb))
        n_lab = int((self.gold >= 0).sum())
        out = {"seeds": seeds, "n_examples": n_lab, "diff": math.nan, "lo": math.nan,
               "hi": math.nan}
        if not seeds or n_lab == 0:
            return out
        D = np.stack([self.correct(ca[s]).astype(np.float64) - self.correct(cb[s]).astype(np.float64)
                      for s in seeds])  # (S, E)
        S, E = D.shape
        out["diff"] = float(D.mean())
        rng = np.random.default_rng(seed)
        # Resampling with replacement = multinomial counts; the resampled mean is
        # sum_s sum_e ws[s] we[e] D[s, e] / (S E).
        ws = rng.multinomial(S, np.full(S, 1.0 / S), size=n_boot).astype(np.float64)
        we = rng.multinomial(E, np.full(E, 1.0 / E), size=n_boot).astype(np.float64)
        stats = np.einsum("bs,se,be->b", ws, D, we) / (S * E)
        out["lo"], out["hi"] = (float(x) for x in np.percentile(stats, [2.5, 97.5]))
        return out

    def reliability(self, rows):
        """Pools the reliability tables of rows: per bin (count, mean confidence, accuracy),
        count-weighted; NaN for empty bins. Also the pooled ECE."""
        count = np.zeros_like(rows[0]["rel_count"])
        conf = np.zeros(len(count))
        acc = np.zeros(len(count))
        for d in rows:
            c = d["rel_count"]
            count += c
            conf += np.where(c > 0, np.nan_to_num(d["rel_mean_conf"]) * c, 0.0)
            acc += np.where(c > 0, np.nan_to_num(d["rel_accuracy"]) * c, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mc = np.where(count > 0, conf / np.maximum(count, 1), np.nan)
            ma = np.where(count > 0, acc / np.maximum(count, 1), np.nan)
        tot = count.sum()
        ece = float(np.nansum(count * np.abs(ma - mc)) / tot) if tot else math.nan
        return count, mc, ma, ece


def _spec_name(spec_text):
    import json
    try:
        return str(json.loads(spec_text).get("name", "")) if spec_text else ""
    except (ValueError, AttributeError):
        return ""


def fmt_num(x, digits=4):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "%.*f" % (digits, x)


def fmt_retention(r):
    return "%g" % r
