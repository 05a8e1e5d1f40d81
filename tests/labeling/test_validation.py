"""The validation report (Sect. 4): the numbers against hand computations, the files it writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread, imsave

from labeling.labels import LABELS, format_error
from labeling.validation import (
    FLAG_ORDER,
    OUT_OF_DISTRIBUTION,
    SNR_BINS,
    ValidationData,
    compare_versions,
    compute_figures,
    parse_flags,
    plot_label_differences,
    residual_stats,
    snr_bin_masks,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCALE = np.array([60.0, 0.1, 0.07, 0.04, 0.07])  # the paper's training dispersions (Fig. 7)


def make_data(
    n: int = 3000,
    *,
    seed: int = 0,
    truth: bool = True,
    members: int = 0,
    population: bool = False,
) -> ValidationData:
    """n stars: a third each training / heldout / observed, Gaussian residuals of width SCALE."""
    rng = np.random.default_rng(seed)
    centre = np.array([4800.0, 2.8, -0.2, 0.1, -0.25])
    spread = np.array([600.0, 1.0, 0.4, 0.1, 0.4])
    t = centre + spread * rng.standard_normal((n, 5))
    pred = t + SCALE * rng.standard_normal((n, 5))
    e = 0.4 * SCALE * np.abs(rng.standard_normal((n, 5)))
    sample = np.array(["training", "heldout", "observed"])[np.arange(n) % 3]
    flags = np.where(rng.random(n) < 0.8, "00000000", "10000001")
    nh = int(np.sum(sample == "heldout"))
    member_pred = None
    if members:
        th = t[sample == "heldout"]
        member_pred = th[:, None, :] + 1.5 * SCALE * rng.standard_normal((nh, members, 5))
    pops = None
    if population:
        pops = np.array(["thin_disc_giant", "ob_star", "halo_dwarf", "m_giant"])[np.arange(n) % 4]
    return ValidationData(
        source_id=np.arange(n, dtype=np.int64) + 10**15,
        sample=sample,
        truth=t if truth else None,
        pred=pred,
        e=e,
        sigma=np.sqrt(e**2 + SCALE**2),
        snr=rng.uniform(10.0, 150.0, n),
        flags=flags,
        member_pred=member_pred,
        population=pops,
    )


def one_label_data(residual: np.ndarray, *, sigma: np.ndarray | None = None, snr=None, **kw):
    """Held-out stars whose residual in every label is ``residual`` (truth 0)."""
    n = len(residual)
    r = np.repeat(np.asarray(residual, float)[:, None], 5, axis=1)
    return ValidationData(
        source_id=np.arange(n),
        sample=np.full(n, "heldout"),
        truth=np.zeros((n, 5)),
        pred=r,
        e=np.zeros((n, 5)),
        sigma=np.ones((n, 5)) if sigma is None else np.repeat(sigma[:, None], 5, axis=1),
        snr=np.full(n, 50.0) if snr is None else np.asarray(snr, float),
        flags=np.full(n, "00000000"),
        **kw,
    )


# ----------------------------------------------------------------------------- statistics


def test_residual_stats_by_hand() -> None:
    st = residual_stats(np.array([1.0, 2.0, 3.0, 4.0, 10.0, np.nan]))
    assert st["n"] == 5
    assert st["bias"] == pytest.approx(4.0)
    assert st["std"] == pytest.approx(np.sqrt(np.mean((np.array([1, 2, 3, 4, 10]) - 4) ** 2)))
    assert st["median"] == pytest.approx(3.0)
    # |r − 3| = 2, 1, 0, 1, 7 → MAD 1
    assert st["robust_sigma"] == pytest.approx(1.4826)
    empty = residual_stats(np.array([np.nan]))
    assert empty == {"n": 0, "bias": None, "std": None, "robust_sigma": None, "median": None}


def test_known_bias_and_sigma_recovered() -> None:
    z = np.random.default_rng(1).standard_normal(50_000)
    z = (z - z.mean()) / z.std()
    fig = compute_figures(one_label_data(0.1 + 0.2 * z))
    for label in LABELS:
        st = fig["accuracy"]["heldout"][label]
        assert st["n"] == 50_000
        assert st["bias"] == pytest.approx(0.1, abs=1e-12)
        assert st["std"] == pytest.approx(0.2, abs=1e-12)
        assert st["robust_sigma"] == pytest.approx(0.2, rel=0.02)


def test_snr_bin_edges_closed_left_open_right() -> None:
    snr = np.array([14.99, 15.0, 24.999, 25.0, 34.9, 35.0, 74.99, 75.0, 1000.0, np.nan])
    masks = snr_bin_masks(snr)
    assert [name for name, _, _ in SNR_BINS] == ["15-25", "25-35", "35-75", ">=75"]
    assert np.flatnonzero(masks["15-25"]).tolist() == [1, 2]
    assert np.flatnonzero(masks["25-35"]).tolist() == [3, 4]
    assert np.flatnonzero(masks["35-75"]).tolist() == [5, 6]
    assert np.flatnonzero(masks[">=75"]).tolist() == [7, 8]
    # through compute_figures: star i has residual i, so each bin's bias is a known mean
    fig = compute_figures(one_label_data(np.arange(10.0), snr=snr))
    bins = fig["accuracy"]["heldout"]["logg"]["snr_bins"]
    assert {k: v["n"] for k, v in bins.items()} == {"15-25": 2, "25-35": 2, "35-75": 2, ">=75": 2}
    assert bins["15-25"]["bias"] == pytest.approx(1.5)
    assert bins[">=75"]["bias"] == pytest.approx(7.5)
    assert bins["25-35"]["std"] == pytest.approx(0.5)
    assert fig["accuracy"]["heldout"]["logg"]["n"] == 10  # all stars count overall


def test_coverage_by_hand_inclusive() -> None:
    fig = compute_figures(one_label_data(np.array([0.5, -1.0, 1.5, 2.0, -2.5])))
    st = fig["accuracy"]["heldout"]["teff"]
    assert st["coverage_1sigma"] == pytest.approx(2 / 5)  # |r| ≤ 1σ, 1.0 included
    assert st["coverage_2sigma"] == pytest.approx(4 / 5)  # 2.0 included


def test_coverage_of_gaussian_residuals() -> None:
    rng = np.random.default_rng(2)
    n = 200_000
    sigma = rng.uniform(0.05, 0.3, n)
    fig = compute_figures(one_label_data(sigma * rng.standard_normal(n), sigma=sigma))
    st = fig["accuracy"]["heldout"]["m_h"]
    assert st["coverage_1sigma"] == pytest.approx(0.6827, abs=0.005)
    assert st["coverage_2sigma"] == pytest.approx(0.9545, abs=0.003)
    assert st["z_std"] == pytest.approx(1.0, abs=0.01)


def test_nan_truth_left_out_per_label() -> None:
    d = make_data(300)
    d.truth[:10, 1] = np.nan  # ten training stars with no log g
    fig = compute_figures(d)
    assert fig["accuracy"]["training"]["teff"]["n"] == 100
    assert fig["accuracy"]["training"]["logg"]["n"] == 100 - 4  # rows 0, 3, 6, 9
    assert "observed" in fig["accuracy"]  # synthetic truth of the observed stars is used
    d.truth[d.sample == "observed"] = np.nan
    assert "observed" not in compute_figures(d)["accuracy"]


def test_samples_and_uncertainty_medians() -> None:
    d = make_data(300)
    fig = compute_figures(d)
    assert fig["samples"] == {"training": 100, "heldout": 100, "observed": 100}
    obs = d.sample == "observed"
    u = fig["uncertainty"]["observed"]["alpha_m"]
    assert u["e"]["median"] == pytest.approx(np.median(d.e[obs, 3]))
    assert u["sigma"]["p84"] == pytest.approx(np.percentile(d.sigma[obs, 3], 84))
    m = obs & (d.snr >= 35) & (d.snr < 75)
    assert u["snr_bins"]["35-75"]["n"] == int(m.sum())
    assert u["snr_bins"]["35-75"]["median_sigma"] == pytest.approx(np.median(d.sigma[m, 3]))


# ----------------------------------------------------------------------------- flags


def test_parse_flags() -> None:
    flags = np.array(["00000000", "10000001", "0000000", "000000002", "0000000x", "None"])
    digits, valid = parse_flags(flags)
    assert valid.tolist() == [True, True, False, False, False, False]
    assert digits[1].tolist() == [True] + [False] * 6 + [True]
    assert not digits[2:].any()
    d2, v2 = parse_flags(np.array([b"01000000", b"00000000"]))
    assert v2.all() and d2[0, 1] and d2.sum() == 1


def test_flag_statistics_by_hand() -> None:
    flags = ["00000000", "10000000", "01000001", "00000000", "bad", "00000011"]
    d = one_label_data(np.zeros(6))
    d.flags = np.array(flags)
    d.population = np.array(["thin", "ob_star", "ob_star", "thin", "thin", "m_giant"])
    d.sample = np.array(["training", "training", "observed", "observed", "observed", "observed"])
    f = compute_figures(d)["flags"]
    assert f["digits"] == list(FLAG_ORDER)
    a = f["all"]
    assert (a["n"], a["n_valid"], a["n_invalid"], a["n_clean"]) == (6, 5, 1, 2)
    assert a["share_clean"] == pytest.approx(2 / 5)
    assert a["share_flagged"] == pytest.approx(3 / 5)
    assert a["digit_share"]["teff"] == pytest.approx(1 / 5)
    assert a["digit_share"]["logg"] == pytest.approx(1 / 5)
    assert a["digit_share"]["parallax"] == pytest.approx(1 / 5)
    assert a["digit_share"]["tsne"] == pytest.approx(2 / 5)
    assert a["digit_share"]["m_h"] == 0.0
    assert f["by_sample"]["training"]["share_clean"] == pytest.approx(1 / 2)
    assert f["by_sample"]["observed"]["share_clean"] == pytest.approx(1 / 3)
    assert f["by_population"]["ob_star"]["share_flagged"] == 1.0
    assert f["by_population"]["thin"]["n_invalid"] == 1
    ood = f["out_of_distribution"]
    assert ood["populations"] == list(OUT_OF_DISTRIBUTION)
    assert (ood["n_ood"], ood["n_other"]) == (3, 2)
    assert ood["share_flagged_ood"] == 1.0
    assert ood["share_flagged_other"] == 0.0
    assert ood["share_of_flagged_in_ood"] == 1.0


def test_out_of_distribution_matches_synthetic_sky() -> None:
    from labeling.synthetic.config import OUTSIDE_TRAINING

    assert tuple(OUT_OF_DISTRIBUTION) == tuple(OUTSIDE_TRAINING)


# ----------------------------------------------------------------------------- members


def test_ensemble_vs_members() -> None:
    d = make_data(3000, members=8)
    held = d.sample == "heldout"
    d.pred[held] = d.member_pred.mean(axis=1)  # the ensemble mean of these members
    ev = compute_figures(d)["ensemble_vs_members"]
    assert ev["n_members"] == 8
    for j, label in enumerate(LABELS):
        st = ev[label]
        stds = [np.std(d.member_pred[:, k, j] - d.truth[held, j]) for k in range(8)]
        assert st["member_std"] == pytest.approx(stds)
        assert st["member_std_median"] == pytest.approx(np.median(stds))
        assert st["ensemble_std"] == pytest.approx(np.std(d.pred[held, j] - d.truth[held, j]))
        # independent member errors: the mean's σ ≈ 1.5 σ / sqrt(8), well below a member's
        assert st["ensemble_over_member_std"] == pytest.approx(1 / np.sqrt(8), rel=0.1)
        assert st["max_abs_member_mean_minus_pred"] == pytest.approx(0.0, abs=1e-9)
    assert compute_figures(make_data(300))["ensemble_vs_members"] is None


def test_input_validation() -> None:
    d = make_data(30)
    with pytest.raises(ValueError, match="member_pred"):
        ValidationData(
            d.source_id,
            d.sample,
            d.truth,
            d.pred,
            d.e,
            d.sigma,
            d.snr,
            d.flags,
            member_pred=np.zeros((3, 4, 5)),
        )
    with pytest.raises(ValueError, match="sample"):
        ValidationData(
            d.source_id, np.full(30, "test"), d.truth, d.pred, d.e, d.sigma, d.snr, d.flags
        )
    with pytest.raises(ValueError, match="pred"):
        ValidationData(d.source_id, d.sample, d.truth, d.pred[:, :4], d.e, d.sigma, d.snr, d.flags)


# ----------------------------------------------------------------------------- report


def test_write_report(tmp_path: Path) -> None:
    d = make_data(3000, members=4, population=True)
    extra_png = tmp_path / "gradients.png"
    imsave(extra_png, np.arange(16.0).reshape(4, 4))
    out = tmp_path / "report"
    config = {"version": "v1.2", "ensemble": {"n_splits": 7, "n_members": 4}, "seed": np.int64(3)}
    fig = write_report(
        out,
        d,
        title="Model v1.2",
        config=config,
        extra_figures={"training_loss": np.float32(0.0123), "epochs": [80, 81]},
        images={"Mean gradients (Fig. 9)": extra_png},
    )
    # report.json round-trips and holds the figures, the config and the plot list
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["figures"] == fig
    assert fig == json.loads(json.dumps(fig, allow_nan=False))
    assert report["config"]["ensemble"] == {"n_splits": 7, "n_members": 4}
    assert report["config"]["seed"] == 3
    assert fig["extra"]["epochs"] == [80, 81]
    expected = {
        "residuals.png",
        "uncertainties.png",
        "precision_snr.png",
        "kiel.png",
        "alpha_mh.png",
        "flags.png",
        "ensemble_members.png",
    }
    pngs = {p.name for p in out.glob("*.png")}
    assert expected <= pngs
    assert any(name.endswith("gradients.png") for name in pngs)
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
    assert {p["file"] for p in report["plots"]} == pngs
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in pngs:
        assert f"src='{name}'" in page
    for ref in ("Fig. 7", "Fig. 8", "Fig. 16", "Fig. 11", "Fig. 14", "Sect. 5", "Model v1.2"):
        assert ref in page
    # key numbers as people read them (issue 27, rough edge 4): biases to the label's
    # precision (Teff 1 K, the others 0.01 dex), spreads to two significant digits, shares in %
    acc = fig["accuracy"]["heldout"]
    assert f"<td>{acc['teff']['bias']:.0f}</td>" in page
    assert f"<td>{acc['logg']['bias']:.2f}</td>" in page
    assert f"<td>{format_error(acc['teff']['std'])}</td>" in page
    assert f"<td>{format_error(acc['logg']['std'])}</td>" in page
    assert f"<td>{format_error(acc['alpha_m']['robust_sigma'])}</td>" in page
    # and never the over-precise numbers the report printed before
    assert f"<td>{acc['teff']['bias']:.1f}</td>" not in page
    assert f"<td>{acc['logg']['std']:.3f}</td>" not in page
    assert f"{100 * acc['m_h']['coverage_1sigma']:.1f} %" in page
    assert f"{100 * fig['flags']['all']['share_clean']:.1f} %" in page
    assert "v1.2" in page and "training_loss" in page
    # every file the page refers to exists
    for ref in re.findall(r"src='([^']+)'", page):
        assert (out / ref).is_file()


def test_write_report_without_truth(tmp_path: Path) -> None:
    fig = write_report(tmp_path, make_data(600, truth=False), title="observed only", config={})
    assert fig["accuracy"] == {}
    assert not (tmp_path / "residuals.png").exists()
    assert not (tmp_path / "precision_snr.png").exists()
    for name in ("uncertainties.png", "kiel.png", "alpha_mh.png", "flags.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
    assert "uncertainties.png" in (tmp_path / "index.html").read_text(encoding="utf-8")


def subset(d: ValidationData, keep: np.ndarray) -> ValidationData:
    """The stars ``keep`` of ``d`` (member predictions follow the held-out stars)."""
    held = d.sample == "heldout"
    members = None if d.member_pred is None else d.member_pred[keep[held]]
    pops = None if d.population is None else d.population[keep]
    return ValidationData(
        d.source_id[keep], d.sample[keep], d.truth[keep], d.pred[keep], d.e[keep],
        d.sigma[keep], d.snr[keep], d.flags[keep], member_pred=members, population=pops,
    )  # fmt: skip


def test_report_without_observed_sample_says_why(tmp_path: Path) -> None:
    """As the pipeline writes it: training and held-out stars only, the catalogue not labelled."""
    d = make_data(1500, members=2)
    d = subset(d, d.sample != "observed")
    write_report(tmp_path, d, title="Model version v-demo", config={})
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<td>observed</td><td>0</td>" not in page
    assert "observed (the catalogue)</td><td>not in this report" in page
    assert (
        "This report has no observed sample: it is written when the model version is built" in page
    )
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    kiel = next(p["caption"] for p in report["plots"] if p["file"] == "kiel.png")
    assert "predicted labels of the training and held-out stars" in kiel
    assert "observed sample (and" not in kiel  # it does not claim a sample it lacks


def test_report_captions_match_the_figures(tmp_path: Path) -> None:
    """Flags: the right-hand panel only with populations; the ensemble: the version's models."""
    plain = make_data(900, members=2)
    write_report(tmp_path / "a", plain, title="a", config={})
    caps = {
        p["file"]: p["caption"]
        for p in json.loads((tmp_path / "a/report.json").read_text())["plots"]
    }
    assert "right" not in caps["flags.png"]
    assert "this version's 2 models" in caps["ensemble_members.png"]
    assert "28 models" not in caps["ensemble_members.png"]
    # without populations the flags figure has one panel: narrower than with the population panel
    with_pops = make_data(900, members=4, population=True)
    write_report(tmp_path / "b", with_pops, title="b", config={})
    caps_b = {
        p["file"]: p["caption"]
        for p in json.loads((tmp_path / "b/report.json").read_text())["plots"]
    }
    assert "right panel: share flagged per population" in caps_b["flags.png"]
    assert "this version's 4 models" in caps_b["ensemble_members.png"]
    width = [imread(tmp_path / x / "flags.png").shape[1] for x in ("a", "b")]
    assert width[0] < width[1]


def test_report_units_and_links(tmp_path: Path) -> None:
    links = [("RVS-CNN Archive", "/"), ("version v-demo", "/#published-version")]
    fig = write_report(tmp_path, make_data(600), title="t", config={}, links=links)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    # one unit for log g everywhere: VOUnit in report.json (machines), its readable form on
    # the page (people)
    assert fig["units"]["logg"] == "log(cm.s**-2)"
    assert "log g [log(cm s⁻²)]" in page and "log(cm.s**-2)" not in page
    assert "log g in log(cm s⁻²)" in page and "[dex]" not in page.split("Teff")[0]
    assert "<nav class='links'><a href='/'>RVS-CNN Archive</a> · " in page
    assert "<a href='/#published-version'>version v-demo</a></nav>" in page
    assert page.index("<nav") < page.index("<h1>")


# ----------------------------------------------------------------------------- comparison


def test_compare_versions() -> None:
    d = make_data(1500)
    a = compute_figures(d)
    d.pred[:, 0] += 25.0  # version b: Teff 25 K hotter
    b = compute_figures(d)
    c = compare_versions(a, b)
    assert c["difference"] == "b - a"
    t = c["accuracy"]["heldout"]["teff"]
    assert t["d_bias"] == pytest.approx(25.0)
    assert t["d_std"] == pytest.approx(0.0, abs=1e-9)
    assert t["bias_b"] - t["bias_a"] == pytest.approx(25.0)
    assert c["accuracy"]["training"]["logg"]["d_bias"] == 0.0
    assert c["accuracy"]["heldout"]["teff"]["snr_bins"]["15-25"]["d_bias"] == pytest.approx(25)
    assert c["flags"]["d_share_clean"] == 0.0
    json.dumps(c, allow_nan=False)


def test_plot_label_differences(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2000, 5))
    b = a + 0.1 + 0.2 * rng.standard_normal((2000, 5))
    b[0, 2] = np.nan
    out = tmp_path / "diff.png"
    st = plot_label_differences(a, b, out)
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert st["m_h"]["n"] == 1999
    assert st["teff"]["bias"] == pytest.approx(np.mean(b[:, 0] - a[:, 0]))
    assert st["teff"]["std"] == pytest.approx(0.2, rel=0.1)
    assert st["logg"]["max_abs"] == pytest.approx(np.max(np.abs(b[:, 1] - a[:, 1])))
    with pytest.raises(ValueError):
        plot_label_differences(a, b[:, :4], out)
