"""report.json, the plots and a self-contained index.html, written with every model version."""

from __future__ import annotations

import html
import json
import math
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..flags import CLEAN_FLAG, FLAG_ORDER
from ..labels import DISPLAY, LABELS
from .data import (
    FLAG_DISPLAY,
    SAMPLE_DISPLAY,
    SNR_BINS,
    UNITS,
    UNITS_TEXT,
    ValidationData,
    format_share,
    format_spread,
    format_value,
)
from .figures import compute_figures
from .plots import draw_plots

# ----------------------------------------------------------------------------- report


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _sanitise(obj: Any) -> Any:
    """NaN/inf → None recursively, so report.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _sanitise(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_sanitise(v) for v in obj]
    return obj


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        out: list[tuple[str, Any]] = []
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, obj)]


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> str:
    e = html.escape
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    th = "".join(f"<th>{e(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
caption{text-align:left;font-weight:600;padding:0.3em 0}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:0.9em;color:#444;max-width:1000px}
code{background:#f4f4f4;padding:0 0.2em}
nav.links{font-size:0.95em;margin-bottom:0.5em}
p.note{background:#fff6dd;border-left:4px solid #e0a800;padding:0.5em 0.8em;max-width:1000px}
"""

#: why a report written with its model version has no observed sample
NO_OBSERVED_SAMPLE = (
    "This report has no observed sample: it is written when the model version is built, before "
    "the version labels the catalogue, so the stars it labels afterwards (the observed sample, "
    "i.e. the published catalogue) have no predictions yet. The tables and plots below are "
    "about the training sample (cross-validated predictions) and the held-out stars, whose "
    "APOGEE DR17 labels are known; the labelled catalogue itself is served by the archive."
)


def _html(
    title: str,
    figures: Mapping[str, Any],
    config: Mapping[str, Any],
    plots: Sequence[tuple[str, str]],
    extra: Mapping[str, Any] | None,
    generated: str,
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """index.html: the head, then one stage per part of the figures, then plots and settings."""
    parts = _head(title, generated, links)
    parts += _samples(figures["samples"], figures["n_stars"])
    for s, acc in figures["accuracy"].items():
        parts += _accuracy(SAMPLE_DISPLAY.get(s, s), acc)
    for s, unc in figures["uncertainty"].items():
        parts.append(_uncertainty(SAMPLE_DISPLAY.get(s, s), unc))
    if figures.get("ensemble_vs_members"):
        parts.append(_ensemble(figures["ensemble_vs_members"]))
    parts += _flags(figures["flags"])
    for s, pops in (figures.get("accuracy_by_population") or {}).items():
        parts.append(_accuracy_by_population(SAMPLE_DISPLAY.get(s, s), pops))
    parts += _plots_and_settings(plots, extra, config)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _head(title: str, generated: str, links: Sequence[tuple[str, str]]) -> list[str]:
    e = html.escape
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
    ]
    if links:
        anchors = " · ".join(f"<a href='{e(href)}'>{e(text)}</a>" for text, href in links)
        parts.append(f"<nav class='links'>{anchors}</nav>")
    parts += [
        f"<h1>{e(title)}</h1>",
        f"<p>Validation report (Guiglion et al. 2024, A&amp;A 682, A9, Sect. 4), generated "
        f"{e(generated)}. Numbers: <a href='report.json'>report.json</a> (every digit; the "
        "tables round labels and biases to their precision, spreads to two significant "
        "digits). Residual = prediction − reference; bias = mean residual; σ = standard "
        "deviation; robust σ = 1.4826·MAD; S/N bins lo ≤ S/N &lt; hi. Units: "
        f"{e(UNITS_TEXT)}</p>",
    ]
    return parts


def _samples(samples: Mapping[str, int], n_stars: int) -> list[str]:
    rows = [[SAMPLE_DISPLAY.get(s, s), n] for s, n in samples.items() if n or s != "observed"]
    if not samples.get("observed"):
        rows.append(["observed (the catalogue)", "not in this report (see below)"])
    parts = [_table(["sample", "stars"], rows + [["total", n_stars]], "Samples")]
    if not samples.get("observed"):
        parts.append(
            f"<p class='note' id='no-observed-sample'>{html.escape(NO_OBSERVED_SAMPLE)}</p>"
        )
    return parts


def _accuracy(sample: str, acc: Mapping[str, Any]) -> list[str]:
    """Fig. 7's numbers and Fig. 16's per S/N bin, for one sample."""
    rows = []
    for label in LABELS:
        st = acc[label]
        rows.append(
            [
                f"{DISPLAY[label]} [{UNITS[label]}]",
                st["n"],
                format_value(label, st["bias"]),
                format_spread(st["std"]),
                format_spread(st["robust_sigma"]),
                format_share(st["coverage_1sigma"]),
                format_share(st["coverage_2sigma"]),
                format_spread(st["median_sigma"]),
                format_spread(st["median_e"]),
                "–" if st["z_std"] is None else f"{st['z_std']:.2f}",
            ]
        )
    head = ["label", "N", "bias", "σ", "robust σ", "|Δ| ≤ σ*", "|Δ| ≤ 2σ*", "median σ*",
            "median e*", "std(Δ/σ*)"]  # fmt: skip
    parts = [_table(head, rows, f"Accuracy, {sample} (Fig. 7, Sect. 3.4)")]
    names = [n for n, _, _ in SNR_BINS]
    rows = []
    for label in LABELS:
        b = acc[label]["snr_bins"]
        rows.append(
            [DISPLAY[label]]
            + [f"{format_spread(b[n]['std'])} ({b[n]['n']})" for n in names]
            + [f"{format_value(label, b[n]['bias'])}" for n in names]
        )
    head = ["label"] + [f"σ S/N {n} (N)" for n in names] + [f"bias S/N {n}" for n in names]
    parts.append(_table(head, rows, f"Precision per S/N bin, {sample} (Fig. 16)"))
    return parts


def _uncertainty(sample: str, unc: Mapping[str, Any]) -> str:
    """Fig. 8: e_* and σ_* of one sample."""
    rows = [
        [DISPLAY[label]]
        + [
            format_spread(unc[label][kind][q])
            for kind in ("e", "sigma")
            for q in ("median", "p16", "p84")
        ]  # fmt: skip
        for label in LABELS
    ]
    head = ["label", "median e*", "e* p16", "e* p84", "median σ*", "σ* p16", "σ* p84"]
    return _table(head, rows, f"Uncertainties, {sample} sample (Fig. 8)")


def _ensemble(ev: Mapping[str, Any]) -> str:
    """Sect. 3.2: the ensemble mean against its single members, on held-out stars."""
    rows = [
        [
            DISPLAY[label],
            ev[label]["n"],
            format_spread(ev[label]["ensemble_std"]),
            format_spread(ev[label]["member_std_median"]),
            format_spread(ev[label]["member_std_min"]),
            "–"
            if ev[label]["ensemble_over_member_std"] is None
            else f"{ev[label]['ensemble_over_member_std']:.3f}",
        ]
        for label in LABELS
    ]
    return _table(
        ["label", "N", "σ ensemble", "median σ member", "min σ member", "ratio"],
        rows,
        f"Ensemble mean vs {ev['n_members']} single members, held-out stars (Sect. 3.2)",
    )


def _flags(flags: Mapping[str, Any]) -> list[str]:
    """Sect. 5: the share of each flag_boundary digit, per sample and population."""
    groups = {"all": flags["all"], **flags["by_sample"]}
    rows = [
        [g, st["n"], st["n_invalid"], format_share(st["share_clean"])]
        + [format_share(st["digit_share"][d]) for d in FLAG_ORDER]
        for g, st in groups.items()
    ]
    head = ["stars", "N", "invalid", CLEAN_FLAG] + [FLAG_DISPLAY[d] for d in FLAG_ORDER]
    parts = [_table(head, rows, "flag_boundary: share of each digit set (Sect. 5)")]
    if not flags.get("by_population"):
        return parts
    rows = [
        [p, st["n"], format_share(st["share_flagged"])]
        + [format_share(st["digit_share"][d]) for d in FLAG_ORDER]
        for p, st in sorted(flags["by_population"].items())
    ]
    head = ["population", "N", "flagged"] + [FLAG_DISPLAY[d] for d in FLAG_ORDER]
    parts.append(_table(head, rows, "flag_boundary per population"))
    ood = flags["out_of_distribution"]
    rows = [
        ["populations outside the training set", ", ".join(ood["populations"])],
        [
            "share flagged, outside (N)",
            f"{format_share(ood['share_flagged_ood'])} ({ood['n_ood']})",
        ],
        [
            "share flagged, others (N)",
            f"{format_share(ood['share_flagged_other'])} ({ood['n_other']})",
        ],
        ["share of flagged stars outside", format_share(ood["share_of_flagged_in_ood"])],
    ]
    parts.append(
        _table(["", "value"], rows, "Flags and out-of-distribution populations (Sect. 5.3)")
    )
    return parts


def _accuracy_by_population(sample: str, pops: Mapping[str, Any]) -> str:
    rows = [
        [p]
        + [
            f"{format_value(k, st[k]['bias'])} / {format_spread(st[k]['std'])} ({st[k]['n']})"
            for k in LABELS
        ]
        for p, st in sorted(pops.items())
    ]
    head = ["population"] + [f"{DISPLAY[k]} b / σ (N)" for k in LABELS]
    return _table(head, rows, f"Accuracy per population, {sample}")


def _plots_and_settings(
    plots: Sequence[tuple[str, str]], extra: Mapping[str, Any] | None, config: Mapping[str, Any]
) -> list[str]:
    e = html.escape
    parts = ["<h2>Plots</h2>"]
    for file, caption in plots:
        parts.append(
            f"<figure><img src='{e(file)}' alt='{e(file)}' loading='lazy'>"
            f"<figcaption><code>{e(file)}</code>: {e(caption)}</figcaption></figure>"
        )
    if extra:
        parts.append(
            _table(["figure", "value"], [[k, v] for k, v in _flatten(extra)], "Further figures")
        )
    parts.append(
        _table(["setting", "value"], [[k, v] for k, v in _flatten(config)], "Configuration")
    )
    return parts


def write_report(
    out_dir: str | Path,
    data: ValidationData,
    *,
    title: str,
    config: Mapping[str, Any],
    extra_figures: Mapping[str, Any] | None = None,
    images: Mapping[str, str | Path] | None = None,
    dpi: int = 80,
    links: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Write report.json, the PNG plots and index.html into out_dir (Sect. 4); return the figures.

    ``extra_figures`` (JSON-able) are stored under "extra" and tabulated; ``images`` (caption →
    PNG path) are copied next to the plots and shown after them; ``links`` ((text, href), e.g.
    the site and the version's page) head the page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = compute_figures(data)
    plots = draw_plots(data, figures, out, dpi)
    for i, (caption, src) in enumerate((images or {}).items()):
        src = Path(src)
        name = f"extra_{i:02d}_{src.name}"
        if src.resolve() != (out / name).resolve():
            shutil.copyfile(src, out / name)
        plots.append((name, str(caption)))
    if extra_figures is not None:
        figures["extra"] = json.loads(json.dumps(extra_figures, default=_jsonable))
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    report = _sanitise(
        {
            "title": title,
            "generated": generated,
            "paper": "Guiglion et al. 2024, A&A 682, A9, Sect. 4",
            "config": json.loads(json.dumps(config, default=_jsonable)),
            "plots": [{"file": f, "caption": c} for f, c in plots],
            "figures": figures,
        }
    )
    (out / "report.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8"
    )
    (out / "index.html").write_text(
        _html(
            title,
            report["figures"],
            report["config"],
            plots,
            report["figures"].get("extra"),
            generated,
            links,
        ),
        encoding="utf-8",
    )
    return report["figures"]
