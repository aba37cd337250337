"""Clinical table, follow-up, latent risk and image plan of a twin cohort (no images).

Generative model ("label first", documented in the package README):

1. The analysed patients are split into the preset's strata and ER / NER groups in the paper's
   proportions (largest-remainder rounding, so a paper-sized cohort has the paper's counts).
2. Each Table 1 variable is drawn given ER from the paper's per-group counts: the level
   multiset of the group is allocated exactly and shuffled; a continuous hospital value (AFP in
   ug/L, ...) is then drawn inside its level's interval. Variables reported as mean / median are
   drawn from a per-group law. Variables are independent given ER (the joint is unknown).
3. Latent image traits z_k (margin irregularity, peritumoral enhancement, heterogeneity,
   arterial enhancement) are N(+-s*delta_k/2, 1) given ER, with s the `strength`.
4. The true ER probability is the exact posterior of this model,
   logit P(ER | x) = log(n_ER/n_NER) + sum_k log p(x_k | ER) / p(x_k | NER),
   summed over all variables (overall), over what an image shows (image-only: tumour size,
   radiological reads, IVIM parameters, latent traits), or over the clinical table only.
   The latent risk is that log-odds, limited to +-12 where a level has zero count in a group.

A small fraction of extra NER-like patients are censored before the horizon; they are not part
of the Table 1 counts nor of the oracle AUCs.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from hccer.errors import ConfigError
from hccer.synth.twins import load_twin, patient_codes

LOGIT_LIMIT = 12.0
TRAITS = ("margin", "peritumoral", "heterogeneity", "enhancement")
CT_SPACINGS = (0.625, 0.6640625, 0.703125, 0.7421875, 0.78125, 0.8203125, 0.859375)
MR_SPACINGS = (1.375, 1.40625, 1.5)
DWI_SPACINGS = (2.5, 2.75, 3.0)


@dataclass
class Simulation:
    clinical: object  # pandas.DataFrame: the hospital-like clinical sheet
    truth: object  # pandas.DataFrame: latent risk, labels, image plan
    columns: dict  # description of every clinical column
    twin: dict
    # what an image shows, exactly: per-variable log-LRs of the image/visible variables and
    # the latent traits (one row per patient), for the learnable ceiling
    image_features: object = None
    clinical_features: object = None  # the same for the clinical-only variables


def allocate(weights, total: int) -> list[int]:
    """Integers proportional to `weights` summing to `total` (largest remainder, ties by order)."""
    w = np.asarray(weights, dtype=float)
    if total == 0 or w.sum() == 0:
        return [0] * len(w)
    raw = w / w.sum() * total
    base = np.floor(raw).astype(int)
    rest = total - int(base.sum())
    order = sorted(range(len(w)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return [int(b) for b in base]


def _law(spec: dict):
    from scipy import stats

    kind = spec["kind"]
    if kind == "normal":
        return stats.norm(spec["mean"], spec["sd"])
    if kind == "lognormal":
        med = float(spec["median"])
        if "sdlog" in spec:
            s = float(spec["sdlog"])
        else:  # median +- IQR reported: IQR = 2 * median * sinh(0.6745 * s)
            s = math.asinh(float(spec["iqr"]) / (2 * med)) / 0.6745
        return stats.lognorm(s, scale=med)
    raise ConfigError(f"unknown distribution kind {kind!r} in twin file")


def _truncated_draw(law, lo: float, hi: float, rng, size: int) -> np.ndarray:
    a, b = law.cdf(lo), law.cdf(hi)
    u = rng.uniform(a, b, size=size)
    return np.clip(law.ppf(u), lo, hi)


def _in_level(v: float, lo: float, hi: float, closed: str) -> bool:
    return (lo < v <= hi) if closed == "right" else (lo <= v < hi)


def _round_inside(vals: np.ndarray, lo: float, hi: float, closed: str, decimals: int):
    """Round to the recorded precision without leaving the level (a 8.96 must not read 9.0)."""
    step = 10.0 ** -decimals
    out = np.round(vals, decimals)
    for i, v in enumerate(out):
        if not _in_level(v, lo, hi, closed):
            v = v - step if (v >= hi) else v + step
            out[i] = round(v, decimals)
    return out


def level_of(value: float, var: dict) -> int:
    """Index of the Table 1 level a continuous value falls in (per the variable's bins)."""
    closed = var.get("closed", "left")
    for i, (lo, hi) in enumerate(var["bins"]):
        if _in_level(value, lo, hi, closed):
            return i
    # Outside every bin: the nearest bin by its cut-off.
    cuts = [b[0] for b in var["bins"]]
    return int(np.argmin([abs(value - c) for c in cuts]))


def _draw_variable(var, group, size, rng, exact: bool):
    """Values (level index or continuous) for `size` patients of one ER group."""
    if "counts" in var:
        counts = [float(c) for c in var["counts"][group]]
        if exact:
            alloc = allocate(counts, size)
            idx = np.repeat(np.arange(len(counts)), alloc)
            rng.shuffle(idx)
        else:
            p = np.asarray(counts) / sum(counts)
            idx = rng.choice(len(counts), size=size, p=p)
        if "bins" not in var:
            return idx, None
        law = _law(var["dist"])
        vals = np.empty(size)
        closed = var.get("closed", "left")
        for lvl, (lo, hi) in enumerate(var["bins"]):
            sel = idx == lvl
            if sel.any():
                raw = _truncated_draw(law, lo, hi, rng, int(sel.sum()))
                vals[sel] = _round_inside(raw, lo, hi, closed, var.get("decimals", 1))
        return idx, vals
    law = _law(var["groups"][group])
    lo, hi = var["bounds"]
    vals = np.round(_truncated_draw(law, lo, hi, rng, size), var.get("decimals", 2))
    return None, vals


def _log_lr(var, idx, vals) -> np.ndarray:
    """log p(x | ER) - log p(x | NER) for one variable (within-level values carry no signal)."""
    if "counts" in var:
        er = np.asarray(var["counts"]["ER"], float)
        ner = np.asarray(var["counts"]["NER"], float)
        with np.errstate(divide="ignore", invalid="ignore"):
            table = np.log(er / er.sum()) - np.log(ner / ner.sum())
        table = np.nan_to_num(table, nan=0.0, posinf=np.inf, neginf=-np.inf)  # 0/0: no signal
        return table[idx]
    lo, hi = var["bounds"]
    out = np.zeros(len(vals))
    for sign, group in ((1, "ER"), (-1, "NER")):
        law = _law(var["groups"][group])
        with np.errstate(divide="ignore"):
            out += sign * (law.logpdf(vals) - np.log(law.cdf(hi) - law.cdf(lo)))
    return out


def _date(s: str) -> dt.date:
    return dt.date.fromisoformat(str(s))


def column_descriptions(twin: dict) -> dict:
    """What `clinical_columns.json` says about each clinical column."""
    cols = {"patient_code": {"type": "id",
                             "description": "the site's patient code (never in results)"}}
    for var in twin["variables"]:
        if var.get("image"):
            continue
        d = {"variable": var["name"], "table1": var.get("table1", True)}
        if "counts" in var and "bins" not in var:
            d.update(type="categorical", levels=list(var["levels"]))
        else:
            d.update(type="continuous", unit=var.get("unit"))
            if "bins" in var:
                d["levels"] = list(var["levels"])
                d["bins"] = [list(b) for b in var["bins"]]
                d["closed"] = var.get("closed", "left")
                d["cut"] = var["bins"][0][1] if var["bins"][0][1] < var["bins"][1][1] \
                    else var["bins"][1][1]
        cols[var["column"]] = d
    for name in twin.get("derived", []):
        if name == "nodule_count":
            cols[name] = {"type": "integer", "unit": "count", "table1": False,
                          "description": "number of tumour nodules on imaging"}
        elif name == "largest_nodule_mm":
            cols[name] = {"type": "continuous", "unit": "mm", "table1": False,
                          "description": "maximum diameter of the largest nodule"}
    cols["surgery_date"] = {"type": "date", "description": "date of hepatectomy"}
    cols["recurrence_date"] = {"type": "date",
                               "description": "first recurrence; empty if none observed"}
    cols["last_followup_date"] = {"type": "date", "description": "last follow-up visit"}
    return cols


def simulate_clinical(preset: str, n: int | None = None, seed: int = 0, strength: float = 1.0,
                      censored_fraction: float = 0.03) -> Simulation:
    """Clinical sheet and truth table of a twin cohort, without images (fast, any N)."""
    import pandas as pd

    twin = load_twin(preset)
    n = twin["paper_n"] if n is None else int(n)
    codes = patient_codes(preset, n)
    if not 0 <= censored_fraction < 0.5:
        raise ConfigError("censored fraction must be in [0, 0.5)")
    # Every draw below comes from this one generator, in a fixed order: the cohort of a seed
    # depends on that order.
    rng = np.random.default_rng([int(seed), 7001])
    n_cens = int(round(censored_fraction * n))
    by_name = {s["name"]: s for s in twin["strata"]}
    blocks = _blocks(twin["strata"], n - n_cens, n_cens)
    stratum, true_er, censored, idx_all, val_all = _draw_patients(twin, blocks, n, rng)

    clin = pd.DataFrame({"patient_code": codes})
    truth = pd.DataFrame({"patient_code": codes, "stratum": stratum, "censored": censored,
                          "true_er": true_er})
    z = _latent_traits(twin, truth, true_er, strength, rng)
    prior = np.array([math.log(by_name[s]["n_er"] / by_name[s]["n_ner"]) for s in stratum])
    shown, tabled = _posterior_columns(twin, truth, prior, idx_all, val_all, z, strength)
    _recorded_columns(twin, clin, truth, idx_all, val_all)

    _follow_up(twin, clin, truth, stratum, by_name, rng)
    _image_plan(twin, clin, truth, idx_all, val_all, z, rng)
    clin = _derived_columns(twin, clin, truth)
    image_features = np.column_stack(shown) if shown else np.zeros((n, 0))
    clinical_features = np.column_stack(tabled) if tabled else np.zeros((n, 0))
    return Simulation(clin, truth, column_descriptions(twin), twin, image_features,
                      clinical_features)


def _blocks(strata, n_an: int, n_cens: int) -> list[tuple]:
    """Blocks of patients: (stratum, group, size, exact allocation?, censored?)."""
    sizes = allocate([s["n_er"] + s["n_ner"] for s in strata], n_an)
    cens_sizes = allocate([s["n_er"] + s["n_ner"] for s in strata], n_cens)
    blocks = []
    for s, size, csize in zip(strata, sizes, cens_sizes, strict=True):
        n_er, n_ner = allocate([s["n_er"], s["n_ner"]], size)
        blocks += [(s, "ER", n_er, True, False), (s, "NER", n_ner, True, False),
                   (s, "NER", csize, False, True)]
    return blocks


def _draw_patients(twin, blocks, n, rng):
    """Stratum, ER, censoring and every variable's (level index, value) per patient, in a
    random patient order. Level index -1 / value NaN where a variable has none."""
    rows: dict[str, list] = {"stratum": [], "true_er": [], "censored": []}
    var_idx = {v["name"]: [] for v in twin["variables"]}
    var_val = {v["name"]: [] for v in twin["variables"]}
    for s, group, size, exact, cens in blocks:
        if size == 0:
            continue
        rows["stratum"] += [s["name"]] * size
        rows["true_er"] += [int(group == "ER")] * size
        rows["censored"] += [int(cens)] * size
        for var in twin["variables"]:
            idx, vals = _draw_variable(var, group, size, rng, exact)
            var_idx[var["name"]].append(idx if idx is not None else np.full(size, -1))
            var_val[var["name"]].append(vals if vals is not None else np.full(size, np.nan))
    # Shuffle patients so codes say nothing about group or stratum.
    perm = rng.permutation(n)
    stratum = np.asarray(rows["stratum"])[perm]
    true_er = np.asarray(rows["true_er"])[perm]
    censored = np.asarray(rows["censored"])[perm]
    idx_all = {k: np.concatenate(v)[perm] for k, v in var_idx.items()}
    val_all = {k: np.concatenate(v)[perm] for k, v in var_val.items()}
    return stratum, true_er, censored, idx_all, val_all


def _latent_traits(twin, truth, true_er, strength, rng) -> dict:
    """Latent image traits z_k ~ N(+-strength*delta_k/2, 1) given ER, also stored in truth."""
    deltas = twin.get("image_traits", {})
    sign = np.where(true_er == 1, 1.0, -1.0)
    z = {}
    for t in TRAITS:
        mu = strength * float(deltas.get(t, 0.0)) / 2
        z[t] = rng.normal(0, 1, len(truth)) + sign * mu
        truth[f"z_{t}"] = np.round(z[t], 6)
    return z


def _posterior_columns(twin, truth, prior, idx_all, val_all, z, strength):
    """Posterior log-odds columns of truth (per stratum prior); returns the bounded
    per-variable log-LRs (shown by an image, tabled only) for the learnable ceiling."""
    n = len(truth)
    deltas = twin.get("image_traits", {})
    lr_clin = np.zeros(n)
    lr_vis = np.zeros(n)
    lr_img_only = np.zeros(n)
    shown, tabled = [], []
    for var in twin["variables"]:
        lr = _log_lr(var, idx_all[var["name"]], val_all[var["name"]])
        if var.get("image"):
            lr_img_only += lr
        else:
            lr_clin += lr
        if var.get("visible"):
            lr_vis += lr
        # a level absent from one group has an infinite log-LR: bounded like the oracle
        bounded = np.clip(lr, -LOGIT_LIMIT, LOGIT_LIMIT)
        if var.get("image") or var.get("visible"):
            shown.append(bounded)
        else:
            tabled.append(bounded)
    shown += [z[t] for t in TRAITS if float(deltas.get(t, 0.0))]
    lr_traits = sum(strength * float(deltas.get(t, 0.0)) * z[t] for t in TRAITS)

    def clamp(x):
        return np.clip(x, -LOGIT_LIMIT, LOGIT_LIMIT)

    overall = clamp(prior + lr_clin + lr_img_only + lr_traits)
    truth["latent_risk"] = np.round(overall, 6)
    truth["true_er_prob"] = np.round(1 / (1 + np.exp(-overall)), 6)
    truth["logit_image"] = np.round(clamp(prior + lr_vis + lr_img_only + lr_traits), 6)
    truth["logit_clinical"] = np.round(clamp(prior + lr_clin), 6)
    return shown, tabled


def _recorded_columns(twin, clin, truth, idx_all, val_all) -> None:
    """Each variable as recorded: image variables in truth, the others in the clinical sheet."""
    for var in twin["variables"]:
        idx, vals = idx_all[var["name"]], val_all[var["name"]]
        target = truth if var.get("image") else clin
        if "bins" in var or "groups" in var:
            dec = var.get("decimals", 2)
            target[var["column"]] = vals.astype(int) if dec == 0 else vals
        else:
            target[var["column"]] = [str(var["levels"][i]) for i in idx]


def _derived_columns(twin, clin, truth):
    """The preset's derived columns from the image plan; follow-up dates last."""
    if "nodule_count" in twin.get("derived", []):
        clin["nodule_count"] = 1 + truth["n_satellites"].to_numpy()
    if "largest_nodule_mm" in twin.get("derived", []):
        clin["largest_nodule_mm"] = truth["tumor_diameter_mm"].round(0).astype(int)
    tail = ["surgery_date", "recurrence_date", "last_followup_date"]
    return clin[[c for c in clin.columns if c not in tail] + tail]


def _follow_up(twin, clin, truth, stratum, by_name, rng):
    horizon = int(twin["horizon_days"])
    n = len(clin)
    surg, rec, last = [], [], []
    for i in range(n):
        s = by_name[stratum[i]]
        a, b = _date(s["surgery"][0]), _date(s["surgery"][1])
        d0 = a + dt.timedelta(days=int(rng.integers(0, (b - a).days + 1)))
        if truth.at[i, "censored"]:
            r = None
            lf = d0 + dt.timedelta(days=int(rng.integers(60, horizon - 30)))
        elif truth.at[i, "true_er"]:
            r = d0 + dt.timedelta(days=int(rng.integers(45, horizon - 5)))
            lf = r + dt.timedelta(days=int(rng.integers(0, 900)))
        elif rng.random() < 0.3:  # late recurrence: NER at this horizon
            r = d0 + dt.timedelta(days=int(horizon + rng.integers(30, 900)))
            lf = r + dt.timedelta(days=int(rng.integers(0, 600)))
        else:
            r = None
            lf = d0 + dt.timedelta(days=int(horizon + rng.integers(15, 1500)))
        surg.append(d0.isoformat())
        rec.append(r.isoformat() if r else "")
        last.append(lf.isoformat())
    clin["surgery_date"] = surg
    clin["recurrence_date"] = rec
    clin["last_followup_date"] = last


def _sig(x):
    return 1 / (1 + np.exp(-np.asarray(x, float)))


def _level_name(twin, name, idx_all, i):
    for var in twin["variables"]:
        if var["name"] == name and "counts" in var:
            return str(var["levels"][idx_all[name][i]])
    return None


def _image_plan(twin, clin, truth, idx_all, val_all, z, rng):
    """Scanner, geometry, motion and tumour appearance per patient (all stored in truth)."""
    n = len(truth)
    _scanner_geometry(twin, truth, rng)
    _anatomy(clin, truth, rng)
    _appearance(twin, truth, idx_all, z, rng)
    _motion(twin, truth, rng)
    # Acquisition clock: injection time of day (s) and study date before surgery.
    truth["injection_s"] = rng.integers(8 * 3600, 17 * 3600, n)
    study = [(_date(d) - dt.timedelta(days=int(rng.integers(2, 14)))).isoformat()
             for d in clin["surgery_date"]]
    truth["study_date"] = study
    truth["birth_date"] = _birth_dates(clin, rng)


def _scanner_geometry(twin, truth, rng) -> None:
    n = len(truth)
    modality = twin["modality"]
    scanners = twin["scanners"]
    w = np.array([s["weight"] for s in scanners], float)
    sc = rng.choice(len(scanners), size=n, p=w / w.sum())
    truth["scanner"] = [scanners[k]["id"] for k in sc]
    thick, spac = [], []
    for k in sc:
        thick.append(float(rng.choice(scanners[k]["thickness"])))
        pool = {"CT": CT_SPACINGS, "MR": MR_SPACINGS, "DWI": DWI_SPACINGS}[modality]
        spac.append(float(rng.choice(pool)))
    truth["slice_thickness_mm"] = thick
    truth["pixel_spacing_mm"] = spac  # at the default 256 matrix; scaled for other matrices


def _anatomy(clin, truth, rng) -> None:
    """Tumour diameter, liver ellipsoid and tumour centre."""
    n = len(truth)
    if "tumor_size_mm" in clin:
        diam = clin["tumor_size_mm"].to_numpy(float) + rng.uniform(-0.49, 0.49, n)
    else:
        diam = rng.lognormal(math.log(40), 0.45, n)
    diam = np.clip(diam, 10, 150)
    truth["tumor_diameter_mm"] = np.round(diam, 2)
    # Anatomy in LPS mm: liver on the patient's right (negative x).
    lc = np.stack([rng.normal(-70, 4, n), rng.normal(8, 4, n),
                   np.round(rng.uniform(-260, -150, n) * 2) / 2], 1)
    semi = np.stack([rng.uniform(80, 95, n), rng.uniform(68, 80, n), rng.uniform(70, 82, n)], 1)
    semi = np.maximum(semi, diam[:, None] * 0.5 + 25)
    for j, ax in enumerate("xyz"):
        truth[f"liver_c{ax}"] = np.round(lc[:, j], 3)
        truth[f"liver_a{ax}"] = np.round(semi[:, j], 3)
    # Tumour centre: inside the liver, room for its radius.
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    u *= rng.uniform(0, 1, (n, 1)) ** (1 / 3)
    room = np.clip(semi - diam[:, None] / 2 - 8, 0, None)
    tc = lc + 0.8 * u * room
    for j, ax in enumerate("xyz"):
        truth[f"tumor_c{ax}"] = np.round(tc[:, j], 3)


def _appearance(twin, truth, idx_all, z, rng) -> None:
    """Tumour appearance from the latent traits and the radiological reads."""
    n = len(truth)

    def read(name):
        return [_level_name(twin, name, idx_all, i) for i in range(n)]

    margin_read, nec_read = read("margin"), read("necrosis")
    cap_read, peri_read, num_read = read("capsule"), read("peritumoral"), read("tumor_number")
    truth["margin_irregularity"] = np.round(
        0.03 + 0.09 * _sig(z["margin"]) + np.array([0.06 if m == "non-smooth" else 0.0
                                                    for m in margin_read]), 4)
    truth["heterogeneity_hu"] = np.round(6 + 22 * _sig(z["heterogeneity"]), 3)
    peri = 30 * _sig(z["peritumoral"] - 0.5)
    peri = np.where([p == "present" for p in peri_read], peri + 25, peri)
    peri = np.where([p == "absent" for p in peri_read], 0.0, peri)
    truth["peritumoral_enh_hu"] = np.round(peri, 3)
    truth["arterial_enh_hu"] = np.round(np.clip(55 + 22 * z["enhancement"], 10, 130), 3)
    truth["washout_hu"] = np.round(rng.uniform(10, 35, n), 3)
    nec = np.where(_sig(2 * z["heterogeneity"] - 1) > 0.6, rng.uniform(0.2, 0.45, n), 0.0)
    nec = np.where([r == "present" for r in nec_read], rng.uniform(0.3, 0.5, n), nec)
    nec = np.where([r == "absent" for r in nec_read], 0.0, nec)
    truth["necrosis_fraction"] = np.round(nec, 4)
    cap = rng.random(n) < 0.6
    cap = np.where([r == "present" for r in cap_read], True, cap)
    cap = np.where([r == "absent" for r in cap_read], False, cap)
    truth["capsule"] = cap.astype(int)
    multi = np.array([r in ("multiple", "multifocal") for r in num_read])
    truth["n_satellites"] = np.where(multi, 1 + rng.integers(0, 3, n), 0)
    if "ivim_d_1e3_mm2_s" not in truth:
        truth["ivim_d_1e3_mm2_s"] = np.round(np.clip(rng.normal(0.9, 0.2, n), 0.4, 1.5), 3)
        truth["ivim_dstar_1e3_mm2_s"] = np.round(np.clip(rng.normal(55, 25, n), 10, 150), 1)
        truth["ivim_f"] = np.round(np.clip(rng.normal(0.15, 0.08, n), 0.03, 0.45), 3)


def _motion(twin, truth, rng) -> None:
    """Inter-phase rigid motion relative to the reference phase, about the liver centre."""
    n = len(truth)
    ref = twin["reference_phase"]
    for ph in twin["phases"]:
        moving = ph != ref
        vals = {
            "tx": np.clip(rng.normal(0, 1.5, n), -4, 4), "ty": np.clip(rng.normal(0, 1.5, n), -4, 4),
            "tz": np.clip(rng.normal(0, 4.5, n), -10, 10),
            "rx": np.clip(rng.normal(0, 1.2, n), -3, 3), "ry": np.clip(rng.normal(0, 1.2, n), -3, 3),
            "rz": np.clip(rng.normal(0, 1.2, n), -3, 3),
        }
        for k, v in vals.items():
            truth[f"{k}_{ph}"] = np.round(v, 3) if moving else 0.0
        truth[f"zshift_{ph}"] = np.round(rng.uniform(-6, 6, n) * 2) / 2 if moving else 0.0


def _birth_dates(clin, rng):
    out = []
    ages = clin["age_years"].to_numpy() if "age_years" in clin else np.full(len(clin), 55)
    for d, age in zip(clin["surgery_date"], ages, strict=True):
        born = _date(d) - dt.timedelta(days=int(round(float(age) * 365.25 + rng.integers(0, 360))))
        out.append(born.isoformat())
    return out
