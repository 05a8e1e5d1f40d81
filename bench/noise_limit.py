"""How close is the CNN to what a noisy RVS spectrum can tell? Same stars, S/N ≥ 75 and S/N 20.

    .venv/bin/python bench/noise_limit.py VERSION_DIR [--stars 40000] [--seed 1] [--n 2000]

Takes up to ``--n`` clean in-distribution observed stars at S/N ≥ 75 of the synthetic sky that
VERSION_DIR was trained on (same --stars and --seed as bench/science.py) and labels them twice:
as they are, and with their spectra degraded to S/N ``--target-snr`` (labeling/augment.py;
photometry, parallax and XP unchanged). The same stars in both, so the growth of σ against the
truth is the part of the precision loss at low S/N (Fig. 16) that the spectrum's noise causes;
the rest of the loss between real S/N bins comes from the faint stars themselves (farther,
redder, noisier XP). Printed per label: σ as is, σ degraded, their ratio, the noise term
sqrt(σ_degraded² − σ²), and for comparison the same ratio between the real S/N 15–25 and
≥ 75 bins.

Then the information limit: the Cramér–Rao bound of each label from the noiseless synthetic
spectrum (labeling/synthetic/spectra.py, with its σ_pix = sqrt(F)/SNR noise raised at the
band edges and correlated between neighbouring pixels) at the target S/N, per star, from
central differences of the spectrum model in Teff, log g, [M/H], [α/M], the line broadening
(4.5 km/s) and the radial velocity. Two
bounds: everything free (the spectrum alone), and Teff and log g known exactly (the most
photometry, parallax and XP could add), each the median over the stars: the bound is
heavy-tailed (warm and metal-poor stars have weak lines), and there a network leans on XP
and on the population's label distribution, which the bound ignores. The bound for [Fe/H]
adds the sky's 0.025 dex scatter of [Fe/H] about [M/H] − 0.25 [α/M] that the spectrum cannot
see. A noise term near the bound means the network already extracts what the noisy spectrum
holds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.linalg import toeplitz
from trained_sky import load, parser, sky_config

from labeling.augment import degrade, rvs_noise_kernel
from labeling.dataset import ArraySpectra
from labeling.labels import LABELS
from labeling.synthetic import OUTSIDE_TRAINING, SpectrumModel
from labeling.synthetic.spectra import intrinsic_flux, lsf_convolve

#: finite-difference steps: Teff (K), log g, [M/H], [α/M] (dex), vbroad, rv (km/s)
STEPS = np.array([20.0, 0.05, 0.02, 0.01, 0.5, 0.2])
VBROAD_KMS = 4.5
#: [Fe/H] = [M/H] − 0.25 [α/M] + 0.02 + N(0, 0.025) in the sky (labeling/synthetic/populations.py)
FE_H_FROM = np.array([0.0, 0.0, 1.0, -0.25])
FE_H_SCATTER = 0.025


def spectra(params: np.ndarray, model: SpectrumModel) -> np.ndarray:
    """Noiseless spectra (n, 2401) for rows of (Teff, log g, [M/H], [α/M], vbroad, rv)."""
    flux = intrinsic_flux(*params.T, model)
    return lsf_convolve(flux, model.resolving_power)


def unit_fisher(labels: np.ndarray, model: SpectrumModel) -> np.ndarray:
    """Per star, the Fisher matrix (n, 6, 6) of the spectrum at S/N 1 (scale by S/N²)."""
    n = len(labels)
    base = np.column_stack([labels[:, :4], np.full(n, VBROAD_KMS), np.zeros(n)])
    flux = spectra(base, model)
    pix = np.arange(flux.shape[1])
    edge = np.minimum(pix, pix[::-1]) / 100.0
    boost = 1.0 + model.edge_noise_boost * np.exp(-edge)
    sigma = np.sqrt(np.clip(flux, 0.05, 2.0)) * boost[None, :]  # σ_pix at S/N 1
    jac = np.empty((n, 6, flux.shape[1]))
    for k, h in enumerate(STEPS):
        up, down = base.copy(), base.copy()
        up[:, k] += h
        down[:, k] -= h
        jac[:, k] = (spectra(up, model) - spectra(down, model)) / (2 * h) / sigma
    # pixel-to-pixel correlation of the noise (labeling.augment.rvs_noise): Fisher = J R⁻¹ Jᵀ
    corr = np.eye(flux.shape[1])
    if model.noise_native_pixel_px is not None:
        w = rvs_noise_kernel(model.noise_native_pixel_px).astype(np.float64)
        rho = np.correlate(w, w, "full")[w.size - 1 :]
        corr = toeplitz(np.r_[rho, np.zeros(flux.shape[1] - rho.size)])
    return np.einsum("nip,njp->nij", jac @ np.linalg.inv(corr), jac)


def bounds(fisher: np.ndarray, snr: float) -> dict[str, np.ndarray]:
    """Median over stars of the Cramér–Rao σ per label: all free, and Teff, log g known."""
    out = {}
    for name, free in (("spectrum alone", slice(0, 6)), ("Teff, log g known", slice(2, 6))):
        cov = np.linalg.inv(fisher[:, free, free] * snr**2)
        full = np.zeros((len(fisher), 4, 4))
        lo = 0 if free.start == 0 else 2
        full[:, lo:, lo:] = cov[:, : 4 - lo, : 4 - lo]
        var_fe = np.einsum("i,nij,j->n", FE_H_FROM, full, FE_H_FROM) + FE_H_SCATTER**2
        var = np.column_stack([np.diagonal(full, axis1=1, axis2=2), var_fe])
        var[:, :lo] = np.nan  # known, not measured
        out[name] = np.median(np.sqrt(var), axis=0)
    return out


UNITS = ("{:.1f}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.3f}")  # Teff in K, the others in dex


def _cell(x: float, fmt: str) -> str:
    return f"{'—' if np.isnan(x) else fmt.format(x):>9s}"


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(stars=40_000)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--target-snr", type=float, default=20.0)
    args = p.parse_args()
    s, _, labeller = load(args)
    obs = s.observed
    inside = ~np.isin(s.observed_population, list(OUTSIDE_TRAINING))
    labelled = labeller.label(obs)
    clean = inside & (np.char.count(labelled.flags.astype(str), "1") == 0)
    real = {
        b: np.std(labelled.labels[m] - obs.labels[m], axis=0)
        for b, m in (
            ("15-25", clean & (obs.snr >= 15) & (obs.snr < 25)),
            (">=75", clean & (obs.snr >= 75)),
        )
    }
    rng = np.random.default_rng(args.seed)
    bright = np.flatnonzero(clean & (obs.snr >= 75))
    bright = np.sort(rng.choice(bright, size=min(args.n, bright.size), replace=False))
    stars = obs.subset(bright)
    flux = stars.spectra.get(np.arange(len(stars)))
    target = np.full(len(stars), args.target_snr)
    spectrum_model = sky_config(args).spectrum
    worse_flux = degrade(flux, stars.snr, target, rng, spectrum_model.noise_native_pixel_px)
    noisy = replace(stars, spectra=ArraySpectra(worse_flux), snr=target)
    as_is = np.std(labelled.labels[bright] - stars.labels, axis=0)
    worse = np.std(labeller.label(noisy).labels - stars.labels, axis=0)
    noise = np.sqrt(np.clip(worse**2 - as_is**2, 0, None))
    crb = bounds(unit_fisher(stars.labels, spectrum_model), args.target_snr)

    print(f"{len(stars)} clean in-distribution stars at S/N >= 75 ({args.version})")
    rows = {
        "sigma, as they are": as_is,
        f"sigma, spectra at S/N {args.target_snr:g}": worse,
        "ratio": worse / as_is,
        "noise term": noise,
        **{f"Cramer-Rao at S/N {args.target_snr:g}, {k}": v for k, v in crb.items()},
        "real bins: 15-25 / >=75": real["15-25"] / real[">=75"],
    }
    print(f"{'':44s}" + "".join(f"{lab:>9s}" for lab in LABELS))
    for name, v in rows.items():
        ratio = name.startswith(("ratio", "real"))
        cells = "".join(_cell(x, "{:.2f}" if ratio else UNITS[j]) for j, x in enumerate(v))
        print(f"{name:44s}{cells}")


if __name__ == "__main__":
    main()
