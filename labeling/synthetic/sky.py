"""Assemble a synthetic Gaia DR3 RVS sky chunk by chunk and write it in the real file formats."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table
from zlib_ng import gzip_ng

from .apogee import apogee_subset
from .astrometry import galactic_to_icrs, make_source_ids
from .config import SkyConfig, describe
from .photometry import flux_over_error, parallax_error, sample_photometry
from .populations import sample_abundance_offsets, sample_labels
from .spectra import synthesize
from .xp import xp_coefficients


@dataclass
class SyntheticChunk:
    """One chunk of the sky: per-product column dicts (Gaia / allStar names) and the truth.

    ``astrophysical_parameters["classlabel_espels"]`` is a str array with '' for null (the
    bulk writer writes '' as ``null``). ``xp`` holds rows only for stars with
    has_xp_continuous = True. ``apogee`` may hold more rows than APOGEE-observed stars
    (duplicates, rows without or with an unmatched Gaia id).
    """

    truth: dict[str, np.ndarray]
    gaia_source: dict[str, np.ndarray]
    astrophysical_parameters: dict[str, np.ndarray]
    rvs: dict[str, np.ndarray]
    xp: dict[str, np.ndarray]
    apogee: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.truth["source_id"])


@dataclass(frozen=True)
class SkyFiles:
    """Paths of the files :func:`write_sky` wrote."""

    gaia_source: Path
    astrophysical_parameters: Path
    rvs_mean_spectrum: Path
    xp_continuous: Path
    allstar: Path
    truth: Path


_VELOCITY_DISPERSION = {  # km/s, per population (line of sight)
    "thin_disc_giant": 30.0,
    "thin_disc_dwarf": 25.0,
    "thick_disc_giant": 60.0,
    "thick_disc_dwarf": 55.0,
    "halo_giant": 150.0,
    "halo_dwarf": 150.0,
    "ob_star": 15.0,
    "m_giant": 35.0,
    "nearby_cool_dwarf": 25.0,
}

_ESPELS_HOT = np.array(["Be", "Herbig", "Be", "Be"])
_ESPELS_COOL = np.array(["dM", "TTauri", "dM", "dM"])


#: side-stream key of the abundance offsets (far from the spawn keys SeedSequence hands out)
_CHEMISTRY_STREAM = 1 << 20


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator for block ``block`` of a sky: independent streams per block."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block,))))


def side_stream(rng: np.random.Generator, key: int) -> np.random.Generator:
    """A stream derived from ``rng``'s seed, not from its draws.

    Ingredients added to the sky later draw from one, so that every other draw (labels, noise,
    the APOGEE subset) stays as it was and old and new skies hold the same stars.
    """
    ss = rng.bit_generator.seed_seq
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, key)))
    )


def generate_chunk(
    rng: np.random.Generator, n: int, first_index: int, config: SkyConfig
) -> SyntheticChunk:
    """Generate n RVS-sample stars whose global running numbers start at ``first_index``.

    Deterministic for (rng state, n, first_index, config). The order of the steps follows the
    paper: labels (Sect. 2.4), photometry/astrometry (2.2), RVS spectra (2.1), XP (2.3),
    APOGEE subset (2.4). Each stage draws from ``rng`` in the same order as ever, so a seed
    gives the sky it always gave.
    """
    lab = sample_labels(rng, n, config)
    phot = sample_photometry(rng, lab.population, lab.teff, lab.logg, lab.m_h, lab.mass, config)
    ra, dec = galactic_to_icrs(phot.lon, phot.lat)
    source_id = make_source_ids(ra, dec, first_index + np.arange(n))
    g = rng.standard_normal((8, n))
    u = rng.random((6, n))
    kin = _astrometry(rng, g, u, lab, phot, config)
    quality = _quality(rng, u, lab, phot, config)
    offsets = sample_abundance_offsets(side_stream(rng, _CHEMISTRY_STREAM), n, config.chemistry)
    flux, flux_error, _ = synthesize(
        rng, lab.teff, lab.logg, lab.m_h, lab.alpha_m, lab.vbroad, kin["rv_residual"], phot.snr,
        lab.anomaly, config.spectrum, offsets,
    )  # fmt: skip
    xp_cols = xp_coefficients(
        rng, lab.teff, lab.m_h, lab.alpha_m, phot.a_v, phot.bp, phot.rp, lab.anomaly, config.xp
    )
    truth = _truth(source_id, ra, dec, lab, phot, kin, offsets, quality["no_xp"])
    apogee, truth["in_apogee"] = apogee_subset(rng, truth, first_index, config)
    keep = ~quality["no_xp"]
    return SyntheticChunk(
        truth=truth,
        gaia_source=_gaia_source(source_id, ra, dec, lab, phot, kin, quality),
        astrophysical_parameters={
            "source_id": source_id,
            "classlabel_espels": _espels(lab.anomaly, lab.teff, u[3]),
        },
        rvs={
            "source_id": source_id,
            "flux": flux,
            "flux_error": flux_error,
            "combined_transits": quality["transits"],
            "combined_ccds": quality["ccds"],
            "deblended_ccds": quality["deblended"],
        },
        xp={"source_id": source_id[keep]} | {k: v[keep] for k, v in xp_cols.items()},
        apogee=apogee,
    )


def _astrometry(rng, g: np.ndarray, u: np.ndarray, lab, phot, config: SkyConfig) -> dict:
    """RUWE (~1 with a tail; bad astrometry and binaries push it up), parallax, proper motions
    and radial velocity, from the normal draws ``g`` and uniform ``u``."""
    n = len(lab.teff)
    bad_astro = lab.anomaly == "bad_astrometry"
    ruwe = np.exp(0.06 * g[0]) * (1.0 + 0.05 * rng.exponential(1.0, n))
    ruwe = np.where(bad_astro, 1.4 + rng.exponential(1.5, n), ruwe)
    ruwe = np.where(lab.anomaly == "binary", ruwe + 0.6 * u[0], ruwe)
    plx_true = 1000.0 / phot.distance_pc
    plx_err = parallax_error(phot.g) * np.exp(0.15 * g[1]) * np.maximum(ruwe, 1.0)
    sig_v = np.array([_VELOCITY_DISPERSION[p] for p in lab.population]) if n else np.zeros(0)
    d_kpc = phot.distance_pc / 1000.0
    hot = lab.teff > 7000.0
    return {
        "ruwe": ruwe,
        "plx_err": plx_err,
        "parallax": plx_true + plx_err * g[2] * np.where(bad_astro, 2.0, 1.0),
        "pmra": sig_v * g[3] / (4.74 * d_kpc),
        "pmdec": sig_v * g[4] / (4.74 * d_kpc),
        "radial_velocity": sig_v * g[5] - 8.0,
        "rv_error": (0.12 + 0.9 * 10.0 ** (0.35 * (phot.grvs - 12.0))) * np.where(hot, 4.0, 1.0),
        "rv_residual": config.spectrum.rv_residual_sigma * g[6] * np.where(hot, 3.0, 1.0),
    }


def _quality(rng, u: np.ndarray, lab, phot, config: SkyConfig) -> dict:
    """Non-single-star flags, XP availability, flux-over-error and the RVS combination counts."""
    n = len(lab.teff)
    variable = lab.anomaly == "variable"
    nss = np.where(lab.anomaly == "binary", rng.integers(1, 5, n), 0).astype(np.int16)
    no_xp = u[1] < config.no_xp_share
    foe = {
        band: flux_over_error(rng, mag, *shape, variable)
        for band, mag, shape in (
            ("g", phot.g, (3.6, 0.10)),
            ("bp", phot.bp, (3.45, 0.13)),
            ("rp", phot.rp, (3.4, 0.12)),
        )
    }
    transits = (5 + rng.poisson(18.0, n)).astype(np.int16)
    ccds = (3 * transits - rng.binomial(4, 0.3, n)).astype(np.int16)
    deblended = np.where(u[2] < 0.05, rng.integers(1, 6, n), 0).astype(np.int16)
    return {"nss": nss, "no_xp": no_xp, "foe": foe, "transits": transits, "ccds": ccds,
            "deblended": deblended}  # fmt: skip


def _espels(anomaly: np.ndarray, teff: np.ndarray, u: np.ndarray) -> np.ndarray:
    """ESP-ELS classes of the emission-line stars (hot or cool kinds), empty for the others."""
    kind = (4 * u).astype(int)
    return np.where(
        anomaly == "emission", np.where(teff > 9000.0, _ESPELS_HOT[kind], _ESPELS_COOL[kind]), ""
    ).astype(str)


def _truth(source_id, ra, dec, lab, phot, kin: dict, offsets: dict, no_xp) -> dict:
    """What the synthetic sky knows of each star (labels, populations, extinction, S/N)."""
    return {
        "source_id": source_id,
        "population": lab.population,
        "stage": lab.stage,
        "anomaly": lab.anomaly,
        "teff": lab.teff,
        "logg": lab.logg,
        "m_h": lab.m_h,
        "alpha_m": lab.alpha_m,
        "fe_h": lab.fe_h,
        "mass": lab.mass,
        "vbroad": lab.vbroad,
        **{f"d_{name}": value for name, value in offsets.items()},
        "distance_pc": phot.distance_pc,
        "a_v": phot.a_v,
        "a_g": phot.a_g,
        "e_bp_rp": phot.e_bp_rp,
        "abs_g": phot.abs_g,
        "rv_residual": kin["rv_residual"],
        "snr": phot.snr,
        "ra": ra,
        "dec": dec,
        "l": phot.lon,
        "b": phot.lat,
        "has_xp": ~no_xp,
    }


def _gaia_source(source_id, ra, dec, lab, phot, kin: dict, quality: dict) -> dict:
    """The gaia_source columns, typed as the Gaia DR3 data model has them."""
    f32 = np.float32
    n = len(source_id)
    anomaly = lab.anomaly
    foe = quality["foe"]
    return {
        "source_id": source_id,
        "ra": ra,
        "dec": dec,
        "parallax": kin["parallax"],
        "parallax_error": kin["plx_err"].astype(f32),
        "parallax_over_error": (kin["parallax"] / kin["plx_err"]).astype(f32),
        "pmra": kin["pmra"],
        "pmdec": kin["pmdec"],
        "ruwe": kin["ruwe"].astype(f32),
        "phot_g_mean_flux_over_error": foe["g"].astype(f32),
        "phot_g_mean_mag": phot.g.astype(f32),
        "phot_bp_mean_flux_over_error": foe["bp"].astype(f32),
        "phot_bp_mean_mag": phot.bp.astype(f32),
        "phot_rp_mean_flux_over_error": foe["rp"].astype(f32),
        "phot_rp_mean_mag": phot.rp.astype(f32),
        "bp_rp": (phot.bp - phot.rp).astype(f32),
        "radial_velocity": kin["radial_velocity"].astype(f32),
        "radial_velocity_error": kin["rv_error"].astype(f32),
        "rvs_spec_sig_to_noise": phot.snr.astype(f32),
        "phot_variable_flag": np.where(anomaly == "variable", "VARIABLE", "NOT_AVAILABLE").astype(
            str
        ),
        "l": phot.lon,
        "b": phot.lat,
        "in_qso_candidates": anomaly == "qso_candidate",
        "in_galaxy_candidates": anomaly == "galaxy_candidate",
        "non_single_star": quality["nss"],
        "has_xp_continuous": ~quality["no_xp"],
        "has_rvs": np.ones(n, dtype=bool),
        "grvs_mag": phot.grvs.astype(f32),
    }


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(chunks) == 1:
        return chunks[0]
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _rvs_writer_process(path: str, queue, meta: dict) -> None:
    """Child process: writes the RVS ECSV (text formatting + gzip dominate write_sky)."""
    from labeling.io.writers import open_bulk_writer

    with open_bulk_writer("rvs_mean_spectrum", path, meta=meta) as writer:
        while (columns := queue.get()) is not None:
            writer.write(columns)


class _RvsSink:
    """Writes RVS chunks in-process or, for big skies, in a second process (2 cores → ~2×)."""

    def __init__(self, path: Path, parallel: bool, meta: dict) -> None:
        self.path = path
        self.proc = None
        if parallel:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            self.queue = ctx.Queue(maxsize=2)  # bounds memory: at most two chunks in flight
            self.proc = ctx.Process(target=_rvs_writer_process, args=(str(path), self.queue, meta))
            self.proc.start()
        else:
            from labeling.io.writers import open_bulk_writer

            self.writer = open_bulk_writer("rvs_mean_spectrum", path, meta=meta)

    def write(self, columns: dict[str, np.ndarray]) -> None:
        if self.proc is None:
            self.writer.write(columns)
            return
        import queue as queue_mod

        while True:
            if not self.proc.is_alive():
                raise RuntimeError(f"RVS writer process died (exit code {self.proc.exitcode})")
            try:
                self.queue.put(columns, timeout=5.0)
                return
            except queue_mod.Full:
                continue

    def close(self, ok: bool) -> None:
        if self.proc is None:
            if ok:
                self.writer.close()
            else:
                self.writer.__exit__(RuntimeError, None, None)
            return
        if ok and self.proc.is_alive():
            self.queue.put(None)
            self.proc.join()
            if self.proc.exitcode != 0:
                raise RuntimeError(f"RVS writer process failed (exit code {self.proc.exitcode})")
        else:
            self.proc.terminate()
            self.proc.join()


class _TruthWriter:
    """Streams the truth table to a gzip ECSV: header once, then rows chunk by chunk."""

    def __init__(self, path: Path, meta: dict[str, object]) -> None:
        self.fh = gzip_ng.open(path, "wt", compresslevel=2, encoding="utf-8")  # noqa: SIM115
        self.meta = meta
        self.started = False

    def write(self, columns: dict[str, np.ndarray]) -> None:
        table = Table(columns)
        if not self.started:
            table.meta.update({"synthetic_sky": {k: str(v) for k, v in self.meta.items()}})
        buf = io.StringIO()
        table.write(buf, format="ascii.ecsv")
        text = buf.getvalue()
        if self.started:
            # drop the YAML header and the column-name line of every chunk but the first
            body = [ln for ln in text.splitlines(keepends=True) if not ln.startswith("#")]
            text = "".join(body[1:])
        self.fh.write(text)
        self.started = True

    def close(self) -> None:
        self.fh.close()


def write_sky(
    out_dir: str | Path,
    n_stars: int,
    seed: int,
    config: SkyConfig = SkyConfig(),  # noqa: B008 -- frozen, so a shared default is safe
    progress: Callable[[int], None] | None = None,
) -> SkyFiles:
    """Generate ``n_stars`` and write the Gaia bulk ECSVs, the allStar FITS and the truth.

    Stars come in blocks of ``config.block_size``, each with its own seeded stream
    (:func:`block_rng`), so the sky for a seed does not depend on ``config.chunk_size``;
    memory is bounded by a few chunks (the small APOGEE table is accumulated). For big skies
    the RVS file is written by a second process (``config.parallel_rvs_writer``): its text
    formatting and compression cost more than generating the stars. ``progress`` is called
    with the number of stars generated so far.
    """
    from labeling.io.provenance import synthetic_sky_marker
    from labeling.io.writers import open_bulk_writer, write_allstar

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = SkyFiles(
        gaia_source=out / "GaiaSource_synthetic.csv.gz",
        astrophysical_parameters=out / "AstrophysicalParameters_synthetic.csv.gz",
        rvs_mean_spectrum=out / "RvsMeanSpectrum_synthetic.csv.gz",
        xp_continuous=out / "XpContinuousMeanSpectrum_synthetic.csv.gz",
        allstar=out / "allStar-dr17-synthetic.fits",
        truth=out / "truth.ecsv.gz",
    )
    block = max(int(config.block_size), 1)
    per_chunk = max(int(config.chunk_size) // block, 1)
    n_blocks = (n_stars + block - 1) // block
    apogee_parts: list[dict[str, np.ndarray]] = []
    truth_writer = _TruthWriter(files.truth, {"seed": seed, "n_stars": n_stars} | describe(config))
    parallel = config.parallel_rvs_writer and n_stars > 4 * block * per_chunk
    # every file says it is synthetic (what the archive's ingest records and its pages show)
    marker = synthetic_sky_marker(
        {"seed": seed, "n_stars": n_stars, "docs": "docs/synthetic-sky.md"}
    )
    w_rvs = _RvsSink(files.rvs_mean_spectrum, parallel, marker)
    ok = False
    try:
        with (
            open_bulk_writer("gaia_source", files.gaia_source, meta=marker) as w_gs,
            open_bulk_writer(
                "astrophysical_parameters", files.astrophysical_parameters, meta=marker
            ) as w_ap,
            open_bulk_writer("xp_continuous", files.xp_continuous, meta=marker) as w_xp,
        ):
            done = 0
            for first_block in range(0, max(n_blocks, 1), per_chunk):
                parts = []
                for b in range(first_block, min(first_block + per_chunk, n_blocks)):
                    size = min(block, n_stars - b * block)
                    parts.append(generate_chunk(block_rng(seed, b), size, b * block, config))
                if not parts:
                    parts.append(generate_chunk(block_rng(seed, 0), 0, 0, config))
                w_gs.write(_concat([p.gaia_source for p in parts]))
                w_ap.write(_concat([p.astrophysical_parameters for p in parts]))
                w_rvs.write(_concat([p.rvs for p in parts]))
                w_xp.write(_concat([p.xp for p in parts]))
                truth_writer.write(_concat([p.truth for p in parts]))
                apogee_parts.extend(p.apogee for p in parts)
                done += sum(len(p) for p in parts)
                if progress is not None:
                    progress(done)
        ok = True
    finally:
        truth_writer.close()
        w_rvs.close(ok)
    write_allstar(files.allstar, _concat(apogee_parts), meta=marker)
    return files
