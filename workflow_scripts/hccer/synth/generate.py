"""Write a twin cohort: DICOM per patient, masks, clinical sheet, truth, canaries, cohort.json."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from hccer.jsonio import provenance, write_json, write_text
from hccer.synth import anatomy
from hccer.synth.ceiling import learnable_ceiling
from hccer.synth.clinical import simulate_clinical
from hccer.synth.dicomio import CT_STORAGE, MR_STORAGE, acquisition_time, uid

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.1"  # 1.1: CT acquisition headers of scanners with an `acquisition` block
TRANSFORM_CONVENTION = (
    "Per phase P, truth columns tx_P, ty_P, tz_P (mm) and rx_P, ry_P, rz_P (degrees) define "
    "T(x) = R (x - c) + c + t with R = Rz @ Rx @ Ry (ITK Euler3DTransform), c = (liver_cx, "
    "liver_cy, liver_cz) in LPS mm. T maps a point of the reference phase to the same anatomy in "
    "phase P: the transform a rigid registration with the reference phase as fixed image and P "
    "as moving image recovers. The reference phase has the identity. Tumour and liver centres "
    "in truth.csv are in the reference phase's physical space.")

CONTRAST = {"ge": "OMNIPAQUE 350", "siemens": "ULTRAVIST 370", "philips": "ULTRAVIST 370",
            "ge_mr": "Gd-DTPA", "philips_mr": ""}


def _digits(*parts, n: int = 8) -> str:
    h = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return str(int(h[:15], 16))[-n:].zfill(n)


def canaries_for(code: str, seed: int, birth_date: str) -> dict:
    """Identifying header values of one patient; every one is listed in canaries.txt."""
    k = _digits(code, seed, n=6)
    return {
        "PatientName": f"CANARY^NAME^{code}",
        "PatientID": f"CANARY-MRN-{_digits('mrn', code, seed)}",
        "PatientBirthDate": birth_date.replace("-", ""),
        "AccessionNumber": f"CANARY-AC{k}",
        "StudyID": f"CANARY-ST{k}",
        "InstitutionName": f"CANARY Hospital {int(k) % 3 + 1}",
        "InstitutionAddress": f"CANARY Street {int(k) % 97 + 1}",
        "ReferringPhysicianName": f"CANARY^REFDOC^{int(k) % 11 + 1}",
        "OperatorsName": f"CANARY^TECH^{int(k) % 7 + 1}",
        "PerformingPhysicianName": f"CANARY^RADIOLOGIST^{int(k) % 5 + 1}",
        "StationName": f"CANARYST{int(k) % 9 + 1:02d}",
    }


def _descriptions(naming: str, thick: float, rng) -> dict:
    t = f"{thick:g}"
    if naming == "ge":
        v = int(rng.integers(0, 2))
        return {"NC": ["NON CON " + t + "mm", "Non Con"][v], "ART": ["ARTERIAL " + t + "mm",
                "ARTERIAL"][v], "PV": ["PORTAL VENOUS", "PV " + t + "mm"][v],
                "DL": ["DELAY 3MIN", "Delayed  " + t + "mm"][v], "LOC": "Scout"}
    if naming == "siemens":
        tt = f"{thick:.1f}"
        if rng.random() < 0.35:  # the same name for every phase: phase from contrast + time
            same = f"Abdomen {tt} B30f"
            return {"NC": same, "ART": same, "PV": same, "DL": same, "LOC": "Topogram 0.6 T20f"}
        return {"NC": f"NATIVE {tt} B30f", "ART": f"ART {tt} B30f", "PV": f"PV {tt} B30f",
                "DL": f"DELAY {tt} B30f", "LOC": "Topogram 0.6 T20f"}
    if naming == "philips":
        return {"NC": f"Plain {t}mm", "ART": "Arterial Phase iDose", "PV": "Venous Phase",
                "DL": "Delayed Phase 2min", "LOC": "Surview"}
    if naming == "ge_mr":
        v = int(rng.integers(0, 2))
        return {"AP": ["Ax LAVA dyn ph2", "+C Ax LAVA 40s"][v],
                "PVP": ["Ax LAVA dyn ph3", "+C Ax LAVA 70s"][v],
                "DP": ["Ax LAVA dyn ph4", "+C ax lava delay"][v],
                "T2": "Ax T2 FSE FS", "LOC": "3-Plane Loc"}
    return {"DWI": ["DWI_IVIM_9b", "sDWI IVIM 9b SENSE"][int(rng.integers(0, 2))],
            "T2": "T2W_TSE_SPAIR", "LOC": "SURVEY"}


def phase_grid(row: dict, twin: dict, phase: str, matrix: int) -> dict:
    """Scanner grid of one phase; origins on a 0.5 mm lattice so geometry is exact in floats."""
    mod = twin["modality"]
    m = matrix if mod != "DWI" else max(matrix // 2, 16)
    # Scaled to keep the field of view at other matrices; 1/64 mm steps stay exact in binary.
    sp = round(float(row["pixel_spacing_mm"]) * (256 / matrix) * 64) / 64
    th = float(row["slice_thickness_mm"])
    if mod == "CT":  # liver-targeted field of view
        cx, cy = float(row["liver_cx"]) + 25, float(row["liver_cy"]) + 5
    else:
        cx, cy = 0.0, 8.0
    x0 = round(2 * (cx - m / 2 * sp)) / 2
    y0 = round(2 * (cy - m / 2 * sp)) / 2
    half = float(row["liver_az"]) + 12
    nz = int(np.ceil(2 * half / th))
    z0 = round(2 * (float(row["liver_cz"]) - half)) / 2 + float(row.get(f"zshift_{phase}", 0.0))
    return {"size": (m, m, nz), "spacing": (sp, sp, th), "origin": (x0, y0, z0), "thickness": th}


def _transform(row: dict, phase: str) -> dict:
    return {k: float(row.get(f"{k}_{phase}", 0.0)) for k in ("tx", "ty", "tz", "rx", "ry", "rz")}


def _write_mask(path: Path, mask: np.ndarray, grid: dict) -> None:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(mask.astype(np.uint8))
    img.SetSpacing([float(v) for v in grid["spacing"]])
    img.SetOrigin([float(v) for v in grid["origin"]])
    img.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name)
    sitk.WriteImage(img, str(tmp), True)
    tmp.replace(path)


def _slices(volume, grid, pixel_fn, extra_fn=None):
    nx, ny, nz = grid["size"]
    x0, y0, z0 = grid["origin"]
    sz = grid["spacing"][2]
    return [{"pixels": pixel_fn(volume[k]), "position": [x0, y0, z0 + k * sz], "k": k,
             "extra": extra_fn(k) if extra_fn else {}} for k in range(nz)]


def generate_patient(row: dict, twin: dict, out: Path, matrix: int, seed: int) -> dict:
    """Render and write every series and mask of one patient; returns a small manifest."""
    code = row["patient_code"]
    idx = int(code[-4:])
    rng = np.random.default_rng([int(seed), 5003, idx])
    ph = anatomy.Phantom(row, seed)
    scanner = next(s for s in twin["scanners"] if s["id"] == row["scanner"])
    naming = scanner["naming"]
    mod = twin["modality"]
    desc = _descriptions(naming, float(row["slice_thickness_mm"]), rng)
    can = canaries_for(code, seed, row["birth_date"])
    study_uid = uid(seed, code, "study")
    for_uid = uid(seed, code, "frame")
    ext = scanner.get("ext", "")
    pattern = "IM{:06d}" + ext
    noise = float(scanner["noise"])
    study_date = row["study_date"].replace("-", "")
    base = {
        "SOPClassUID": CT_STORAGE if mod == "CT" else MR_STORAGE,
        "Modality": "CT" if mod == "CT" else "MR",
        "StudyInstanceUID": study_uid, "FrameOfReferenceUID": for_uid,
        "StudyDate": study_date, "SeriesDate": study_date, "AcquisitionDate": study_date,
        "ContentDate": study_date, "StudyTime": acquisition_time(row["injection_s"] - 600),
        "StudyDescription": "ABDOMEN LIVER" if mod == "CT" else "MR LIVER",
        "Manufacturer": scanner["manufacturer"], "ManufacturerModelName": scanner["model"],
        "PatientSex": row.get("sex_dicom", "O"), "BodyPartExamined": "ABDOMEN",
        "PatientPosition": "FFS" if mod == "CT" else "HFS", **can,
    }
    series_plan = ["LOC"] + (["T2"] if mod in ("MR", "DWI") else []) + list(twin["phases"])
    folders = rng.permutation(len(series_plan)) + 1
    manifest = {"masks": [], "files": 0, "bytes": 0, "canaries": sorted(set(can.values()))}
    delays = twin["phase_delay_s"]
    for sn, (name, folder_no) in enumerate(zip(series_plan, folders, strict=True), start=1):
        series_uid = uid(seed, code, "series", name)
        folder = out / "dicom" / code / f"SE{folder_no:04d}"
        common = dict(base, SeriesInstanceUID=series_uid, SeriesNumber=sn,
                      SeriesDescription=desc[name])
        if name == "LOC":
            t = row["injection_s"] - 300
        elif name == "T2":
            t = row["injection_s"] - 240
        else:
            t = row["injection_s"] + delays[name] + float(rng.uniform(-3, 3))
        common["AcquisitionTime"] = common["SeriesTime"] = common["ContentTime"] = \
            acquisition_time(t)
        if name == "LOC":
            frames = _localizer(ph, row, twin, matrix, common)
        elif name == "DWI":
            frames, grid, m1, m2 = _dwi(ph, row, twin, matrix, common, noise, rng)
            manifest["masks"] += _masks(out, code, name, twin, m1, m2, grid)
        else:
            frames, grid, m1, m2 = _volume(ph, row, twin, name, matrix, common, noise, rng,
                                           naming, scanner)
            if name in twin["mask_phases"]:
                manifest["masks"] += _masks(out, code, name, twin, m1, m2, grid)
        from hccer.synth.dicomio import write_series

        for i, fr in enumerate(frames, start=1):
            fr["instance"] = i
        paths = write_series(folder, frames, common, pattern)
        manifest["files"] += len(paths)
        manifest["bytes"] += sum(p.stat().st_size for p in paths)
    return manifest


def _masks(out, code, phase, twin, m1, m2, grid):
    rows = []
    readers = [("r1", m1)] + ([("r2", m2)] if twin.get("second_reader") else [])
    for reader, m in readers:
        rel = Path("masks") / code / f"{code}_{phase}_{reader}.nii.gz"
        _write_mask(out / rel, m, grid)
        rows.append((code, phase, reader, rel.as_posix()))
    return rows


def _volume(ph, row, twin, name, matrix, common, noise, rng, naming, scanner):
    mod = twin["modality"]
    if name == "T2":
        grid = phase_grid(row, twin, twin["reference_phase"], matrix // 2)
        grid["size"] = (grid["size"][0], grid["size"][1], max(4, grid["size"][2] * 5 // 8))
        grid["spacing"] = (grid["spacing"][0], grid["spacing"][1], 8.0)
        grid["thickness"] = 8.0
        tf = _transform(row, twin["reference_phase"])
    else:
        grid = phase_grid(row, twin, name, matrix)
        tf = _transform(row, name)
    if mod == "CT":
        img, m1, m2 = anatomy.render(ph, grid, tf, lambda lab, tex: anatomy.ct_values(
            ph, name, lab, tex))
        sd = noise * np.sqrt(5.0 / grid["thickness"])
        hu = img + rng.normal(0, sd, img.shape).astype(np.float32)
        stored = np.clip(np.round(hu + 1024), 0, 4095).astype(np.int16)
        common.update(
            ImageType=["ORIGINAL", "PRIMARY", "AXIAL"], RescaleIntercept=-1024, RescaleSlope=1,
            RescaleType="HU", WindowCenter=40, WindowWidth=400, KVP=120,
            ConvolutionKernel=scanner.get("kernel", "STANDARD"),
            ReconstructionDiameter=round(grid["size"][0] * grid["spacing"][0], 2),
            **_acquisition(scanner.get("acquisition"), row["patient_code"], name))
        if name != "NC":
            common.update(ContrastBolusAgent=CONTRAST[naming], ContrastBolusRoute="IV")
        pix = stored
    else:
        img, m1, m2 = anatomy.render(ph, grid, tf, lambda lab, tex: anatomy.mr_values(
            ph, name, lab, tex))
        pix = _rician(img, noise, rng)
        common.update(
            ImageType=["ORIGINAL", "PRIMARY", "OTHER"],
            ScanningSequence="SE" if name == "T2" else "GR",
            SequenceVariant="SK" if name == "T2" else ["SS", "SP"],
            ScanOptions="FAST_GEMS" if naming == "ge_mr" else "FS",
            MRAcquisitionType="2D" if name == "T2" else "3D",
            EchoTime=85.0 if name == "T2" else 1.7, RepetitionTime=4000.0 if name == "T2" else 3.8,
            MagneticFieldStrength=float(scanner.get("field", 1.5)),
            ImagingFrequency=63.86 if float(scanner.get("field", 1.5)) < 2 else 127.74)
        if name != "T2":
            common.update(ContrastBolusAgent=CONTRAST[naming], ContrastBolusRoute="IV")
    common.update(ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                  PixelSpacing=[grid["spacing"][1], grid["spacing"][0]],
                  SliceThickness=grid["thickness"], SpacingBetweenSlices=grid["spacing"][2])
    frames = _slices(pix, grid, lambda a: a)
    if scanner["naming"] in ("ge", "ge_mr"):  # GE writes head first: instance 1 = top slice
        frames = frames[::-1]
    return frames, grid, m1, m2


def _acquisition(acq: dict | None, code: str, series: str) -> dict:
    """CT acquisition tags of a scanner's protocol (twin YAML `acquisition`); the tube current
    of a dose-modulated series is drawn from a hash, so the image noise stream is untouched."""
    if not acq:
        return {}
    n, width = acq["collimation"]
    lo, hi = acq["tube_current_ma"]
    return {"ExposureModulationType": acq.get("modulation", "NONE"),
            "XRayTubeCurrent": lo + int(_digits(code, series, "mA")) % (hi - lo + 1),
            "SingleCollimationWidth": float(width), "TotalCollimationWidth": float(n * width),
            "RevolutionTime": float(acq["rotation_s"]), "SpiralPitchFactor": float(acq["pitch"])}


def _rician(signal, sd, rng):
    n1 = rng.normal(0, sd, signal.shape)
    n2 = rng.normal(0, sd, signal.shape)
    mag = np.sqrt((signal + n1) ** 2 + n2 ** 2)
    return np.clip(np.round(mag), 0, 65535).astype(np.uint16)


def _dwi(ph, row, twin, matrix, common, noise, rng):
    bvals = [float(b) for b in twin["b_values"]]
    grid = phase_grid(row, twin, "DWI", matrix)
    tf = _transform(row, "DWI")

    def values(lab, tex):
        s0, d, dstar, f = anatomy.ivim_maps(ph, lab, tex)
        return tuple((s0 * (f * np.exp(-b * dstar) + (1 - f) * np.exp(-b * d))).astype(np.float32)
                     for b in bvals)

    imgs, m1, m2 = anatomy.render(ph, grid, tf, values)
    common.update(
        ImageType=["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"], ScanningSequence="SE",
        SequenceVariant="SK", ScanOptions="FS", MRAcquisitionType="2D", EchoTime=62.0,
        RepetitionTime=2600.0, MagneticFieldStrength=3.0, ImagingFrequency=127.74,
        ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        PixelSpacing=[grid["spacing"][1], grid["spacing"][0]],
        SliceThickness=grid["thickness"], SpacingBetweenSlices=grid["spacing"][2])
    frames = []
    for b, img in zip(bvals, imgs, strict=True):
        pix = _rician(img, noise, rng)
        for fr in _slices(pix, grid, lambda a: a):
            fr["extra"] = {"DiffusionBValue": b}
            fr["private"] = [(0x20010010, "LO", "Philips Imaging DD 001"),
                             (0x20011003, "FL", b)]
            frames.append(fr)
    return frames, grid, m1, m2


def _localizer(ph, row, twin, matrix, common):
    """One coronal scout image through the liver (ImageType ...\\LOCALIZER)."""
    m = matrix
    sp = 400.0 / m
    x0 = round(2 * (-m / 2 * sp)) / 2
    ztop = round(2 * (float(row["liver_cz"]) + 200)) / 2
    xs = x0 + sp * np.arange(m)
    zs = ztop - sp * np.arange(m)
    X, Z = np.meshgrid(xs, zs)
    pts = np.stack([X.ravel(), np.full(X.size, float(row["liver_cy"])), Z.ravel()])
    lab, _, _, tex = ph.labels(pts)
    if twin["modality"] == "CT":
        v = anatomy.ct_values(ph, "NC", lab, tex)
        pix = np.clip(np.round(v + 1024), 0, 4095).astype(np.int16).reshape(m, m)
        common.update(RescaleIntercept=-1024, RescaleSlope=1, KVP=120)
    else:
        v = anatomy.mr_values(ph, "T2", lab, tex)
        pix = np.clip(np.round(v), 0, 65535).astype(np.uint16).reshape(m, m)
        common.update(ScanningSequence="GR", SequenceVariant="SS", ScanOptions="",
                      MRAcquisitionType="2D", EchoTime=1.5, RepetitionTime=4.0,
                      MagneticFieldStrength=1.5 if "1.5" in str(row["scanner"]) else 3.0)
    common.update(ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"],
                  ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 0.0, -1.0],
                  PixelSpacing=[sp, sp], SliceThickness=1.0)
    return [{"pixels": pix, "position": [x0, float(row["liver_cy"]), ztop], "extra": {}}]


def _job(args):
    row, twin, out, matrix, seed = args
    return generate_patient(row, twin, Path(out), matrix, seed)


def auc(labels, scores) -> float:
    """Area under the ROC curve by the rank-sum formula (ties count one half)."""
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool)
    r = rankdata(np.asarray(scores, float))
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def generate_cohort(preset: str, out: str | Path, n: int | None = None, seed: int = 0,
                    workers: int = 1, matrix: int = 256, strength: float = 1.0,
                    censored_fraction: float = 0.03) -> dict:
    """Write the whole twin cohort under `out`; returns the cohort.json record."""
    from multiprocessing import get_context

    t0 = time.perf_counter()
    out = Path(out)
    sim = simulate_clinical(preset, n=n, seed=seed, strength=strength,
                            censored_fraction=censored_fraction)
    twin, clin, truth = sim.twin, sim.clinical, sim.truth
    rows = truth.to_dict("records")
    sexes = clin["sex"].tolist() if "sex" in clin else ["O"] * len(rows)
    for r, s in zip(rows, sexes, strict=True):
        r["sex_dicom"] = {"M": "M", "F": "F"}.get(s, "O")
    jobs = [(r, twin, str(out), int(matrix), int(seed)) for r in rows]
    t1 = time.perf_counter()
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            manifests = pool.map(_job, jobs, chunksize=1)
    else:
        manifests = [_job(j) for j in jobs]
    t_img = time.perf_counter() - t1

    write_text(out / "clinical.csv", clin.to_csv(index=False, lineterminator="\n"))
    write_json(out / "clinical_columns.json", sim.columns)
    write_text(out / "truth.csv", truth.to_csv(index=False, lineterminator="\n"))
    mask_rows = sorted(m for man in manifests for m in man["masks"])
    write_text(out / "masks.tsv", "patient_code\tphase\treader\tpath\n"
               + "".join("\t".join(r) + "\n" for r in mask_rows))
    canaries = sorted({c for man in manifests for c in man["canaries"]})
    write_text(out / "canaries.txt", "".join(c + "\n" for c in canaries))

    an = truth[truth["censored"] == 0]
    aucs = {k: round(auc(an["true_er"], an[c]), 4) for k, c in
            (("overall", "latent_risk"), ("image_only", "logit_image"),
             ("clinical_only", "logit_clinical"))}
    analysed = (truth["censored"] == 0).to_numpy()
    # null when fewer than 2 patients per class leaves nothing to cross-validate
    y_an = an["true_er"].to_numpy()
    for key, feats in (("image_learnable_cv5", sim.image_features),
                       ("overall_learnable_cv5",
                        np.hstack([sim.image_features, sim.clinical_features]))):
        ceiling = learnable_ceiling(feats[analysed], y_an, seed=seed)
        aucs[key] = None if np.isnan(ceiling) else round(ceiling, 4)
    n_files = sum(m["files"] for m in manifests)
    n_bytes = sum(m["bytes"] for m in manifests)
    record = {
        "preset": preset, "n": len(rows), "seed": int(seed), "generator_version":
        GENERATOR_VERSION, "matrix": int(matrix), "strength": float(strength),
        "censored_fraction": float(censored_fraction),
        "n_censored": int(truth["censored"].sum()), "n_analysed": len(an),
        "n_er_analysed": int(an["true_er"].sum()), "horizon_days": twin["horizon_days"],
        "phases": twin["phases"], "reference_phase": twin["reference_phase"],
        "mask_phases": twin["mask_phases"],
        "second_reader": "all patients" if twin.get("second_reader") else "none",
        "scanners": {k: int(v) for k, v in truth["scanner"].value_counts().sort_index().items()},
        "oracle_auc": aucs, "transform_convention": TRANSFORM_CONVENTION,
        "dicom_files": n_files, "dicom_bytes": n_bytes,
        "provenance": {k: v for k, v in provenance(seed).items() if k != "argv"},
        "timing": {"seconds_total": round(time.perf_counter() - t0, 2),
                   "seconds_images": round(t_img, 2), "workers": int(workers),
                   "files_per_s": round(n_files / max(t_img, 1e-9), 1),
                   "mb_per_s": round(n_bytes / 1e6 / max(t_img, 1e-9), 2)},
    }
    write_json(out / "cohort.json", record)
    log.info("wrote %d patients of %s to %s (%d DICOM files, %.1f MB) in %.1f s", len(rows),
             preset, out, n_files, n_bytes / 1e6, record["timing"]["seconds_total"])
    return record
