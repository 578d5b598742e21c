"""PAMNet's calibrated intervals beside Chemprop v2's, on FreeSolv's test split.

    python -m venv --system-site-packages /path/cp && /path/cp/bin/pip install chemprop
    python benchmarks/compare_uncertainty.py --data FreeSolv/database.txt \\
        --chemprop-venv /path/cp --out runs/compare_uncertainty [--threads 1] \\
        [--pamnet-epochs 10] [--pamnet-batch-size 32] [--split-seeds 0 1 2]

One split for both (`benchmarks/freesolv.py`: random 80/10/10, seed 0; with
--split-seeds, one run of both tools per seed and the mean ± sd over them), one CSV
with a split column. Each tool trains on 'train', calibrates 90% intervals on 'val' and
predicts 'test', every step a whole process, timed:

- Chemprop v2 (its own venv): `chemprop train -t regression-mve` (mean-variance
  estimation: a predicted variance per molecule; defaults otherwise), then `chemprop
  predict --uncertainty-method mve --cal-path val.csv` on the test rows, calibrated two
  ways: `--calibration-method conformal-regression --conformal-alpha 0.1` (Chemprop
  adds a conformal margin to the MVE variance, read as a half-width; its output is the
  half-width) and `--calibration-method zscaling` (the variance scaled to fit the
  validation errors; the 90% interval is ± 1.645 standard deviations).
- PAMNet: `pamnet finetune --split-col split` from the shipped MMFF model (its
  validation split calibrates the checkpoint's intervals, `pamnet.uncertainty`), then
  `pamnet predict test.csv --format json --level 0.9` (5 conformers, the default).

--threads N: each tool's CPU threads (Chemprop: OMP/MKL threads; PAMNet: torch threads,
and as many SMILES-embedding processes). --pamnet-batch-size: default `pamnet finetune`'s.

Prints, per tool: test molecules predicted, RMSE and MAE (kcal/mol), the fraction of
true values inside the 90% intervals, their mean width, and the wall time of training
and of predicting and their sum, over the test molecules both predicted, and writes
summary.json (one per split in OUT/split<seed>/, all of them in OUT/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import freesolv  # noqa: E402

Z90 = 1.6449  # standard normal quantile at 0.95: a 90% two-sided interval


def _run(cmd: list[str], env: dict | None = None) -> float:
    """Run a whole process; its wall time in s (its output to a log beside the caller's)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(
            f"{' '.join(cmd[:3])} failed:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
        )
    return time.perf_counter() - start


def chemprop(venv: Path, split_csv: Path, val: Path, test: Path, out: Path, threads: int) -> dict:
    exe = str(venv / "bin" / "chemprop")
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    train_s = _run([exe, "train", "--data-path", str(split_csv), "--smiles-columns", "smiles",
                    "--target-columns", "expt", "--splits-column", "split", "-t", "regression-mve",
                    "-o", str(out / "chemprop"), "--num-workers", "0", "--accelerator", "cpu",
                    "--devices", "1"], env)  # fmt: skip
    model = next((out / "chemprop").rglob("best*.pt"))
    runs = {}
    for method, extra in (("conformal", ["--conformal-alpha", "0.1"]), ("zscaling", [])):
        preds = out / f"chemprop_test_{method}.csv"
        predict_s = _run([exe, "predict", "--test-path", str(test), "--smiles-columns", "smiles",
                          "--model-paths", str(model), "--cal-path", str(val),
                          "--uncertainty-method", "mve", "--calibration-method",
                          "conformal-regression" if method == "conformal" else "zscaling",
                          *extra, "-o", str(preds), "--num-workers", "0", "--accelerator",
                          "cpu", "--devices", "1"], env)  # fmt: skip
        runs[method] = {"table": pd.read_csv(preds), "predict_s": predict_s}
    return {"runs": runs, "train_s": train_s, "model": str(model)}


def chemprop_intervals(table: pd.DataFrame, method: str) -> tuple[np.ndarray, ...]:
    """(prediction, low, high) from Chemprop's output table, whose 'expt_unc' is the
    calibrated half-width (conformal) or the calibrated variance (z-scaling)."""
    pred, unc = table["expt"].to_numpy(float), table["expt_unc"].to_numpy(float)
    half = unc if method == "conformal" else Z90 * np.sqrt(unc)
    return pred, pred - half, pred + half


def pamnet(
    split_csv: Path, test: Path, out: Path, threads: int, epochs: int, batch_size: int | None
) -> dict:
    env = {"PAMNET_DATA_DIR": str(out / "pamnet_data")}
    ckpt = out / "pamnet_freesolv.pt"
    train_s = _run([sys.executable, "-m", "pamnet", "finetune", "--data", str(split_csv),
                    "--target", "expt", "--smiles-col", "smiles", "--split-col", "split",
                    "--base", "qm9_pamnet_mmff", "-o", str(ckpt), "--epochs", str(epochs),
                    "--threads", str(threads),
                    *(["--batch-size", str(batch_size)] if batch_size else [])], env)  # fmt: skip
    preds = out / "pamnet_test.json"
    predict_s = _run([sys.executable, "-m", "pamnet", "predict", str(test), "--smiles-col",
                      "smiles", "--name-col", "name", "--checkpoint", str(ckpt), "--format",
                      "json", "-o", str(preds), "--level", "0.9"], env)  # fmt: skip
    records = json.loads(preds.read_text())
    return {"records": records, "train_s": train_s, "predict_s": predict_s}


def metrics(y, pred, low, high) -> dict:
    err = pred - y
    return {
        "n": int(len(y)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "coverage": float(np.mean((y >= low) & (y <= high))),
        "mean_width": float(np.mean(high - low)),
    }


def one_split(args, seed: int, out: Path) -> dict:
    """Both tools on FreeSolv split `seed`: their metrics over the test molecules both
    predicted (written to out/summary.json)."""
    out.mkdir(parents=True, exist_ok=True)
    df = freesolv.split(freesolv.load(args.data), seed)
    split_csv = freesolv.write_split_csv(df, out / "freesolv_split.csv")
    val = out / "val.csv"
    test = out / "test.csv"
    df[df.split == "val"][["smiles", "expt"]].to_csv(val, index=False)
    tdf = df[df.split == "test"].reset_index(drop=True)
    tdf[["smiles", "expt", "name"]].to_csv(test, index=False)
    print(f"FreeSolv split seed {seed}: {len(df)} molecules; "
          f"{dict(df.split.value_counts())}", flush=True)  # fmt: skip

    cp = chemprop(args.chemprop_venv, split_csv, val, test, out, args.threads)
    pm = pamnet(split_csv, test, out, args.threads, args.pamnet_epochs, args.pamnet_batch_size)
    recs = pm["records"]
    pm_ok = np.array(["expt" in (r.get("intervals") or {}) for r in recs])
    pm_pred = np.array([(r.get("predictions") or {}).get("expt", np.nan) for r in recs], float)
    pm_low = np.array([r["intervals"]["expt"][0] if ok else np.nan for r, ok in zip(recs, pm_ok)])
    pm_high = np.array([r["intervals"]["expt"][1] if ok else np.nan for r, ok in zip(recs, pm_ok)])
    y = tdf["expt"].to_numpy(float)
    tools = {}
    for method, run in cp["runs"].items():
        pred, low, high = chemprop_intervals(run["table"], method)
        tools[f"chemprop ({method})"] = (pred, low, high, cp["train_s"], run["predict_s"])
    tools["pamnet"] = (pm_pred, pm_low, pm_high, pm["train_s"], pm["predict_s"])
    both = pm_ok & np.all([np.isfinite(t[0]) for t in tools.values()], 0)
    summary = {"split_seed": seed,
               "split": {k: int(v) for k, v in df.split.value_counts().items()},
               "n_both": int(both.sum()),
               "pamnet_failed": [r.get("error") for r in recs if r.get("error")]}  # fmt: skip
    for name, (pred, low, high, train_s, predict_s) in tools.items():
        summary[name] = {**metrics(y[both], pred[both], low[both], high[both]),
                         "train_s": train_s, "predict_s": predict_s}  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"{both.sum()} of {len(y)} test molecules predicted by all; 90% intervals")
    _table({name: [summary[name]] for name in tools})
    return summary


def _table(rows: dict[str, list[dict]]) -> None:
    """One line per tool: each figure's mean over the splits (± sd when several)."""
    print(f"{'tool':24s} {'RMSE':>12s} {'MAE':>12s} {'coverage':>12s} {'width':>10s} "
          f"{'train s':>9s} {'predict s':>10s} {'total s':>9s}")  # fmt: skip

    def cell(runs, key, fmt, width):
        v = np.array([r[key] if key != "total_s" else r["train_s"] + r["predict_s"]
                      for r in runs])  # fmt: skip
        text = format(v.mean(), fmt) + (f"±{format(v.std(ddof=1), fmt)}" if len(v) > 1 else "")
        return f"{text:>{width}s}"

    for name, runs in rows.items():
        print(f"{name:24s} {cell(runs, 'rmse', '.3f', 12)} {cell(runs, 'mae', '.3f', 12)} "
              f"{cell(runs, 'coverage', '.3f', 12)} {cell(runs, 'mean_width', '.2f', 10)} "
              f"{cell(runs, 'train_s', '.0f', 9)} {cell(runs, 'predict_s', '.1f', 10)} "
              f"{cell(runs, 'total_s', '.0f', 9)}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="FreeSolv's database.txt")
    ap.add_argument("--chemprop-venv", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "compare_uncertainty")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pamnet-epochs", type=int, default=30)
    ap.add_argument("--pamnet-batch-size", type=int, default=None, help="default: finetune's")
    ap.add_argument("--split-seeds", type=int, nargs="+", default=[freesolv.SPLIT_SEED],
                    help="one run of both tools per random split (default: the documented one)")  # fmt: skip
    args = ap.parse_args()
    summaries = [one_split(args, seed, args.out / f"split{seed}") for seed in args.split_seeds]
    if len(summaries) > 1:
        print(f"\nmean ± sd over the {len(summaries)} splits (seeds {args.split_seeds})")
        _table({name: [s[name] for s in summaries] for name in summaries[0]
                if isinstance(summaries[0][name], dict) and "rmse" in summaries[0][name]})  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(summaries, indent=1))


if __name__ == "__main__":
    main()
