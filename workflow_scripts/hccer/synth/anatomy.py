"""Analytic abdominal phantom rendered on a scanner grid, with rigid motion and partial volume.

Tissues are evaluated at points of the body frame (the reference phase's physical LPS space);
a phase image at scanner point y shows the anatomy at T^-1(y), where
T(x) = R (x - c) + c + t maps reference-phase points to that phase (ITK convention: the
transform a registration with the reference as fixed image recovers). Each thick slice is the
mean of thin sub-planes, so slice thickness blurs the anatomy along z as a scanner does.
"""

from __future__ import annotations

import math

import numpy as np

# Tissue labels.
AIR, FAT, MUSCLE, BONE, MARROW, AORTA, IVC, LIVER, PORTAL, KIDNEY = range(10)
TUMOR, NECROSIS, CAPSULE, PERI, SATELLITE = range(10, 15)
N_LABELS = 15

# CT attenuation (HU) per phase; tumour values are set per patient.
CT_HU = {
    "NC": [-1000, -100, 50, 700, 250, 40, 40, 58, 40, 32],
    "ART": [-1000, -100, 55, 700, 250, 320, 90, 72, 110, 160],
    "PV": [-1000, -100, 60, 700, 250, 170, 150, 115, 190, 190],
    "DL": [-1000, -100, 58, 700, 250, 120, 115, 100, 130, 150],
}
# T1 fat-suppressed dynamic MRI signal (a.u.).
MR_T1 = {
    "AP": [0, 40, 260, 60, 120, 1300, 500, 420, 650, 600],
    "PVP": [0, 40, 270, 60, 120, 750, 800, 560, 900, 700],
    "DP": [0, 40, 270, 60, 120, 600, 620, 540, 650, 620],
    "T2": [0, 60, 220, 40, 90, 80, 80, 260, 80, 600],
}
# IVIM tissue parameters: S0 (a.u.), D, D* (mm2/s), f.
IVIM = {
    AIR: (0, 1e-3, 1e-2, 0), FAT: (40, 0.2e-3, 1e-2, 0), MUSCLE: (180, 1.4e-3, 2e-2, 0.1),
    BONE: (30, 0.3e-3, 1e-2, 0), MARROW: (90, 0.5e-3, 1e-2, 0.05),
    AORTA: (350, 2.5e-3, 80e-3, 0.9), IVC: (350, 2.5e-3, 80e-3, 0.9),
    LIVER: (420, 1.05e-3, 55e-3, 0.25), PORTAL: (350, 2.5e-3, 80e-3, 0.85),
    KIDNEY: (600, 1.9e-3, 30e-3, 0.2),
}


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """ITK Euler3DTransform rotation (degrees): R = Rz @ Rx @ Ry."""
    a, b, c = (math.radians(v) for v in (rx, ry, rz))
    Rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    Ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    Rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return Rz @ Rx @ Ry


class Phantom:
    """Tissue labels and tumour texture of one patient, from its truth-table row."""

    def __init__(self, row: dict, seed: int):
        g = np.random.default_rng([seed, 9001, int(str(row["patient_code"])[-4:])])
        self.row = row
        self.lc = np.array([row["liver_cx"], row["liver_cy"], row["liver_cz"]], float)
        self.la = np.array([row["liver_ax"], row["liver_ay"], row["liver_az"]], float)
        self.tc = np.array([row["tumor_cx"], row["tumor_cy"], row["tumor_cz"]], float)
        self.tr = float(row["tumor_diameter_mm"]) / 2
        self.liver_phase = g.uniform(0, 2 * np.pi, 4)
        self.tum_phase = g.uniform(0, 2 * np.pi, 6)
        self.tex_k = g.normal(0, 0.25, (4, 3))
        self.tex_phase = g.uniform(0, 2 * np.pi, 4)
        self.nec_off = g.normal(0, 0.15, 3) * self.tr
        self.r2_scale = 1 + g.uniform(-0.04, 0.04)
        self.r2_phase = self.tum_phase + g.normal(0, 0.3, 6)
        sats = []
        for _ in range(int(row["n_satellites"])):
            d = g.normal(size=3)
            d /= np.linalg.norm(d)
            sats.append((self.tc + d * self.tr * g.uniform(1.5, 2.2), g.uniform(3.5, 7.0)))
        self.sats = sats
        # Portal vein: a segment through the hilum, towards the liver centre.
        self.pv_a = self.lc + np.array([45, 10, -25])
        self.pv_b = self.lc + np.array([-10, -5, 15])

    def _tumor_bound(self, p, phase_shift, scale):
        """Irregular radius factor of the tumour surface at points p (3, N)."""
        m = float(self.row["margin_irregularity"])
        d = (p - self.tc[:, None]) / self.tr
        s = phase_shift
        pert = (np.sin(2.1 * d[0] + s[0]) * np.sin(1.9 * d[1] + s[1])
                + np.sin(2.3 * d[2] + s[2]) * np.sin(1.7 * d[0] + s[3])
                + 0.5 * np.sin(4.1 * d[1] + s[4]) * np.sin(3.7 * d[2] + s[5]))
        return d, scale * (1 + m * pert)

    def labels(self, p: np.ndarray):
        """Labels (uint8), tumour indicators of readers 1 and 2, and texture at points p (3, N)."""
        x, y, z = p
        n = p.shape[1]
        lab = np.zeros(n, np.uint8)
        body = (x / 165.0) ** 2 + ((y - 5) / 122.0) ** 2
        lab[body < 1] = FAT
        inner = (x / 148.0) ** 2 + ((y - 5) / 106.0) ** 2 < 1
        lab[inner] = FAT
        musc = (((np.abs(x) - 30) / 22.0) ** 2 + ((y - 78) / 22.0) ** 2 < 1)
        musc |= (body < 1) & ~((x / 154.0) ** 2 + ((y - 5) / 112.0) ** 2 < 1)
        lab[musc] = MUSCLE
        r_sp = x ** 2 + (y - 70) ** 2
        lab[r_sp < 18.0 ** 2] = BONE
        lab[r_sp < 14.0 ** 2] = MARROW
        lab[(x - 18) ** 2 + (y - 42) ** 2 < 11.0 ** 2] = AORTA
        lab[(x + 22) ** 2 + (y - 38) ** 2 < 11.0 ** 2] = IVC
        kc = self.lc + np.array([5, 55, -60])
        kid = ((x - kc[0]) / 32) ** 2 + ((y - kc[1]) / 28) ** 2 + ((z - kc[2]) / 55) ** 2 < 1
        lab[kid] = KIDNEY
        d = (p - self.lc[:, None]) / self.la[:, None]
        s = self.liver_phase
        pert = 0.07 * np.sin(2.5 * d[0] + s[0]) * np.sin(2.0 * d[1] + s[1]) \
            + 0.05 * np.sin(3.0 * d[2] + s[2]) + 0.04 * np.sin(2.2 * d[0] - 1.5 * d[2] + s[3])
        liver = (d ** 2).sum(0) < (1 + pert) ** 2
        lab[liver] = LIVER
        # Portal vein segment (distance to a line segment).
        ab = self.pv_b - self.pv_a
        tt = np.clip(((p - self.pv_a[:, None]) * ab[:, None]).sum(0) / (ab @ ab), 0, 1)
        dist2 = ((p - (self.pv_a[:, None] + tt * ab[:, None])) ** 2).sum(0)
        lab[(dist2 < 7.0 ** 2) & liver] = PORTAL
        # Tumour, capsule, necrosis, peritumoral rim and satellites.
        dt_, bound = self._tumor_bound(p, self.tum_phase, 1.0)
        rho = np.sqrt((dt_ ** 2).sum(0))
        r1 = rho < bound
        peri = liver & ~r1 & (rho < bound * 1.35)
        lab[peri] = PERI
        lab[r1] = TUMOR
        if int(self.row["capsule"]):
            lab[r1 & (rho > bound * 0.9)] = CAPSULE
        nf = float(self.row["necrosis_fraction"])
        if nf > 0:
            dn = p - (self.tc + self.nec_off)[:, None]
            lab[r1 & ((dn ** 2).sum(0) < (nf * self.tr) ** 2)] = NECROSIS
        for c, r in self.sats:
            lab[((p - c[:, None]) ** 2).sum(0) < r * r] = SATELLITE
        d2, bound2 = self._tumor_bound(p, self.r2_phase, self.r2_scale)
        r2 = np.sqrt((d2 ** 2).sum(0)) < bound2
        tex = np.zeros(n, np.float32)
        sel = r1 | peri
        if sel.any():
            q = p[:, sel] - self.tc[:, None]
            acc = np.zeros(q.shape[1])
            for k, ph in zip(self.tex_k, self.tex_phase, strict=True):
                acc += np.sin(k @ q + ph)
            tex[sel] = acc / 2.0
        return lab, r1, r2, tex


def ct_values(ph: Phantom, phase: str, lab, tex) -> np.ndarray:
    row = ph.row
    lut = np.zeros(N_LABELS, np.float32)
    lut[:10] = CT_HU[phase]
    liver = CT_HU[phase][LIVER]
    enh, wash = float(row["arterial_enh_hu"]), float(row["washout_hu"])
    tum = {"NC": liver - 18, "ART": liver + enh, "PV": liver - wash, "DL": liver - wash - 8}[phase]
    lut[TUMOR] = lut[SATELLITE] = tum
    lut[NECROSIS] = 22
    lut[CAPSULE] = tum if phase in ("NC", "ART") else liver + 22
    lut[PERI] = liver
    v = lut[lab]
    het = float(row["heterogeneity_hu"])
    v = v + np.where((lab == TUMOR) | (lab == CAPSULE), het * tex, 0)
    if phase == "ART":
        peri = float(row["peritumoral_enh_hu"])
        v = v + np.where(lab == PERI, peri * np.clip(tex + 0.5, 0, None), 0)
    return v


def mr_values(ph: Phantom, phase: str, lab, tex) -> np.ndarray:
    row = ph.row
    lut = np.zeros(N_LABELS, np.float32)
    lut[:10] = MR_T1[phase]
    liver = MR_T1[phase][LIVER]
    scale = 4.0  # MR signal per HU-equivalent of enhancement
    enh, wash = float(row["arterial_enh_hu"]), float(row["washout_hu"])
    tum = {"AP": liver + scale * enh, "PVP": liver - scale * wash, "DP": liver - scale * wash - 30,
           "T2": liver + 180}[phase]
    lut[TUMOR] = lut[SATELLITE] = tum
    lut[NECROSIS] = 420 if phase == "T2" else 90
    lut[CAPSULE] = tum if phase in ("AP", "T2") else liver + 100
    lut[PERI] = liver
    v = lut[lab]
    v = v + np.where((lab == TUMOR) | (lab == CAPSULE), scale * float(row["heterogeneity_hu"]) * tex,
                     0)
    if phase == "AP":
        v = v + np.where(lab == PERI, scale * float(row["peritumoral_enh_hu"])
                         * np.clip(tex + 0.5, 0, None), 0)
    return v


def ivim_maps(ph: Phantom, lab, tex):
    """S0, D, D*, f per point; the tumour takes the patient's true IVIM parameters."""
    row = ph.row
    table = np.zeros((N_LABELS, 4), np.float64)
    for k, vals in IVIM.items():
        table[k] = vals
    tumor = (700.0, float(row["ivim_d_1e3_mm2_s"]) * 1e-3,
             float(row["ivim_dstar_1e3_mm2_s"]) * 1e-3, float(row["ivim_f"]))
    table[TUMOR] = table[CAPSULE] = table[SATELLITE] = tumor
    table[NECROSIS] = (500.0, 2.2e-3, 20e-3, 0.05)
    table[PERI] = table[LIVER]
    m = table[lab]
    het = 1 + 0.006 * float(row["heterogeneity_hu"]) * np.where(lab == TUMOR, tex, 0)
    m[:, 1] *= het
    return m[:, 0], m[:, 1], m[:, 2], m[:, 3]


def render(ph: Phantom, grid: dict, transform: dict, values, fine_mm: float = 2.5):
    """Render one series: `values(lab, tex)` -> array (or tuple) per point, averaged per slice.

    grid: {size: (nx, ny, nz), spacing: (sx, sy, sz), origin: (x0, y0, z0), thickness}
    transform: {tx, ty, tz, rx, ry, rz} (mm, degrees), about the liver centre.
    Returns (image (nz, ny, nx) or tuple of such, mask r1, mask r2) as float32 / uint8.
    """
    nx, ny, nz = grid["size"]
    sx, sy, sz = grid["spacing"]
    x0, y0, z0 = grid["origin"]
    th = grid["thickness"]
    nsub = max(1, int(round(th / fine_mm)))
    offs = ((np.arange(nsub) + 0.5) / nsub - 0.5) * th
    R = rotation(transform["rx"], transform["ry"], transform["rz"])
    t = np.array([transform["tx"], transform["ty"], transform["tz"]])
    c = ph.lc
    xs = (x0 + sx * np.arange(nx)).astype(np.float64)
    ys = (y0 + sy * np.arange(ny)).astype(np.float64)
    X, Y = np.meshgrid(xs, ys)
    plane = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)])
    out, m1, m2 = None, np.zeros((nz, ny, nx), np.uint8), np.zeros((nz, ny, nx), np.uint8)
    for k in range(nz):
        acc, f1, f2 = None, 0, 0
        for o in offs:
            plane[2] = z0 + k * sz + o
            body = R.T @ (plane - (c + t)[:, None]) + c[:, None]  # T^-1(y)
            lab, r1, r2, tex = ph.labels(body)
            v = values(lab, tex)
            v = v if isinstance(v, tuple) else (v,)
            acc = list(v) if acc is None else [a + b for a, b in zip(acc, v, strict=True)]
            f1 = f1 + r1
            f2 = f2 + r2
        if out is None:
            out = [np.zeros((nz, ny, nx), np.float32) for _ in acc]
        for o_arr, a in zip(out, acc, strict=True):
            o_arr[k] = (a / nsub).reshape(ny, nx)
        m1[k] = (np.asarray(f1).reshape(ny, nx) * 2 >= nsub)
        m2[k] = (np.asarray(f2).reshape(ny, nx) * 2 >= nsub)
    return (out[0] if len(out) == 1 else tuple(out)), m1, m2
