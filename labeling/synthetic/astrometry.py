"""Sky positions and Gaia-like source ids (HEALPix level 12 nested index × 2^35 + a number)."""

from __future__ import annotations

import numpy as np

#: ICRS → Galactic rotation (Hipparcos definition, ESA 1997 Vol. 1 Sect. 1.5.3)
_ICRS_TO_GAL = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)

#: vertical scale height per population, pc; populations not listed are isotropic (halo, and
#: the nearby dwarfs, which all lie within a scale height)
SCALE_HEIGHT_PC = {
    "thin_disc_giant": 300.0,
    "thin_disc_dwarf": 300.0,
    "thick_disc_giant": 900.0,
    "thick_disc_dwarf": 900.0,
    "ob_star": 80.0,
    "m_giant": 300.0,
}

HEALPIX_LEVEL = 12
_NSIDE = 1 << HEALPIX_LEVEL


def sample_galactic(
    rng: np.random.Generator, population: np.ndarray, distance_pc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Galactic (l, b) in degrees for stars at (roughly) ``distance_pc``.

    A disc population of scale height h puts a star at distance d at |sin b| with density
    ∝ exp(−d |sin b| / h): distant disc stars hug the plane (and collect more dust).
    """
    n = len(population)
    lon = 360.0 * rng.random(n)
    u = rng.random(n)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    h = np.array([SCALE_HEIGHT_PC.get(str(p), np.inf) for p in population]) if n else np.zeros(0)
    s = np.where(np.isfinite(h), h, 1.0) / np.maximum(distance_pc, 1.0)
    # truncated exponential in |sin b| on [0, 1]; isotropic (uniform |sin b|) when s is large
    isotropic = ~np.isfinite(h) | (s > 20.0)
    s = np.minimum(s, 20.0)
    sinb_exp = -s * np.log1p(-u * -np.expm1(-1.0 / s))
    sinb = sign * np.where(isotropic, u, sinb_exp)
    lat = np.degrees(np.arcsin(np.clip(sinb, -1.0, 1.0)))
    return lon, lat


def galactic_to_icrs(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(l, b) → (ra, dec), degrees."""
    lr, br = np.radians(lon), np.radians(lat)
    xyz_gal = np.stack([np.cos(br) * np.cos(lr), np.cos(br) * np.sin(lr), np.sin(br)])
    x, y, z = _ICRS_TO_GAL.T @ xyz_gal
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
    return ra, dec


def _spread_bits(v: np.ndarray) -> np.ndarray:
    out = np.zeros_like(v)
    for bit in range(HEALPIX_LEVEL):
        out |= ((v >> bit) & 1) << (2 * bit)
    return out


def healpix_nested(ra: np.ndarray, dec: np.ndarray, level: int = HEALPIX_LEVEL) -> np.ndarray:
    """HEALPix nested pixel index at ``level`` (the ang2pix of Górski et al. 2005), int64."""
    nside = 1 << level
    z = np.sin(np.radians(dec))
    za = np.abs(z)
    tt = (np.radians(ra) % (2 * np.pi)) / (np.pi / 2)  # in [0, 4)
    # equatorial belt
    t1 = nside * (0.5 + tt)
    t2 = nside * z * 0.75
    jp = (t1 - t2).astype(np.int64)
    jm = (t1 + t2).astype(np.int64)
    ifp, ifm = jp // nside, jm // nside
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq = jm & (nside - 1)
    iy_eq = nside - (jp & (nside - 1)) - 1
    # polar caps
    ntt = np.minimum(tt.astype(np.int64), 3)
    tp = tt - ntt
    tmp = nside * np.sqrt(3.0 * (1.0 - za))
    jp_p = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jm_p = np.minimum(((1.0 - tp) * tmp).astype(np.int64), nside - 1)
    north = z >= 0
    face_p = np.where(north, ntt, ntt + 8)
    ix_p = np.where(north, nside - jm_p - 1, jp_p)
    iy_p = np.where(north, nside - jp_p - 1, jm_p)
    polar = za > 2.0 / 3.0
    face = np.where(polar, face_p, face_eq).astype(np.int64)
    ix = np.where(polar, ix_p, ix_eq).astype(np.int64)
    iy = np.where(polar, iy_p, iy_eq).astype(np.int64)
    return face * nside * nside + _spread_bits(ix) + (_spread_bits(iy) << 1)


def make_source_ids(ra: np.ndarray, dec: np.ndarray, running: np.ndarray) -> np.ndarray:
    """Gaia-style ids: HEALPix level-12 nested index × 2^35 + running number (< 2^35).

    The running number is the star's global index in the synthetic sky, so ids are unique and
    do not depend on how the sky was cut into chunks; ``source_id // 2**35 // 4**(12 − k)``
    gives the level-k HEALPix pixel as for real Gaia ids.
    """
    return healpix_nested(ra, dec) * np.int64(2**35) + np.asarray(running, dtype=np.int64)


def apogee_ids(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """2MASS-style designations, '2MHHMMSSss+DDMMSSs', as APOGEE_ID."""
    if np.size(ra) == 0:
        return np.array([], dtype="<U18")
    ra_s = np.round(np.asarray(ra) / 15.0 * 3600.0 * 100.0).astype(np.int64) % (24 * 360000)
    hh, rem = np.divmod(ra_s, 360000)
    mm, rem = np.divmod(rem, 6000)
    ss = rem  # hundredths of seconds
    dec_s = np.round(np.abs(np.asarray(dec)) * 3600.0 * 10.0).astype(np.int64)
    dd, rem = np.divmod(dec_s, 36000)
    dm, ds = np.divmod(rem, 600)
    sign = np.where(np.asarray(dec) < 0, "-", "+")
    ra_part = np.char.add(
        np.char.add(np.char.zfill(hh.astype(str), 2), np.char.zfill(mm.astype(str), 2)),
        np.char.zfill(ss.astype(str), 4),
    )
    dec_part = np.char.add(
        np.char.add(np.char.zfill(dd.astype(str), 2), np.char.zfill(dm.astype(str), 2)),
        np.char.zfill(ds.astype(str), 3),
    )
    return np.char.add(np.char.add(np.char.add("2M", ra_part), sign), dec_part)
