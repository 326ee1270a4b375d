"""The model report of a training run: PNG plots and one HTML page.

Plots (one set per task that trained): calibration curve (classifiers, model vs baselines),
cumulative gain (classifiers), CLTV by predicted decile (amounts) and feature importance (gain).
The HTML page embeds the plots and every metric, and is written with the plots to the run's
artefact folder.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from sklearn.calibration import calibration_curve

from pipeline.lib.modeling.evaluate import decile_table
from pipeline.lib.reporting.plots import data_url, png, subplots

BASELINE_COLUMNS = ("rf_logistic", "btyd", "run_rate")


def calibration_plot(test, title: str) -> bytes:
    fig, ax = subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    for column in ("model", *BASELINE_COLUMNS):
        if column in test:
            truth, predicted = calibration_curve(
                test["actual"], test[column].clip(0, 1), n_bins=10, strategy="quantile"
            )
            ax.plot(predicted, truth, "o-", label=column)
    ax.set(xlabel="predicted probability", ylabel="observed rate", title=title)
    ax.legend()
    return png(fig)


def gain_plot(test, title: str) -> bytes:
    fig, ax = subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random")
    for column in ("model", *BASELINE_COLUMNS):
        if column in test:
            order = np.argsort(-test[column].to_numpy(), kind="stable")
            gained = np.cumsum(test["actual"].to_numpy()[order]) / test["actual"].sum()
            ax.plot(np.arange(1, len(order) + 1) / len(order), gained, label=column)
    ax.set(xlabel="share of customers targeted", ylabel="share of positives", title=title)
    ax.legend()
    return png(fig)


def decile_plot(test, title: str) -> bytes:
    table = decile_table(test["actual"].to_numpy(), test["model"].to_numpy())
    fig, ax = subplots(figsize=(5, 4))
    x = np.arange(1, 11)
    ax.bar(x - 0.2, table["predicted"], 0.4, label="predicted")
    ax.bar(x + 0.2, table["actual"], 0.4, label="actual")
    ax.set(xlabel="predicted decile (1 = highest)", ylabel="mean revenue", title=title)
    ax.set_xticks(x)
    ax.legend()
    return png(fig)


def importance_plot(importance, title: str, top: int = 15) -> bytes:
    shown = importance.head(top)[::-1]
    fig, ax = subplots(figsize=(5, 4.5))
    ax.barh(shown.index, shown.to_numpy())
    ax.set(xlabel="total gain", title=title)
    return png(fig)


def task_plots(result) -> dict[str, bytes]:
    """PNG bytes by plot name for one trained task (none for a fallback task)."""
    if result.model is None:
        return {}
    name, test = result.task.name, result.test
    plots = {f"{name}_importance": importance_plot(result.model.importance(), f"{name}: drivers")}
    if result.task.kind == "binary":
        plots[f"{name}_calibration"] = calibration_plot(test, f"{name}: calibration")
        plots[f"{name}_gain"] = gain_plot(test, f"{name}: cumulative gain")
    elif result.task.kind == "amount":
        plots[f"{name}_deciles"] = decile_plot(test, f"{name}: revenue by predicted decile")
    return plots


def write_report(folder: Path, version: str, sections: dict[str, dict], plots: dict) -> Path:
    """`report.html` and the PNGs in `folder`; `sections` maps a title to a metrics table
    ({row name: {metric: value}})."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>Model report {html.escape(version)}</h1>"]
    for title, table in sections.items():
        metrics = sorted({m for row in table.values() for m in row})
        head = "".join(f"<th>{html.escape(m)}</th>" for m in metrics)
        rows = "".join(
            f"<tr><th>{html.escape(name)}</th>"
            + "".join(f"<td>{_cell(row.get(m))}</td>" for m in metrics)
            + "</tr>"
            for name, row in table.items()
        )
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr><th></th>{head}</tr>{rows}</table>")
    for name, image in plots.items():
        (folder / f"{name}.png").write_bytes(image)
        parts.append(f'<h3>{html.escape(name)}</h3><img src="{data_url(image)}">')
    path = folder / "report.html"
    style = "<style>td,th{padding:2px 8px;text-align:right}table{border-collapse:collapse}</style>"
    path.write_text(f"<!doctype html><meta charset=utf-8>{style}" + "".join(parts))
    return path


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape("" if value is None else str(value))
