"""Grouping slices into series and classifying series into a study's phases from header evidence.

Evidence, strongest first: a phase word in SeriesDescription; presence of ContrastBolusAgent
(pre-contrast vs enhanced); the order of acquisition times among enhanced series (arterial,
then portal-venous, then delayed), or the delay after ContrastBolusStartTime when recorded;
b-values for diffusion. Descriptions are often identical for every phase of a patient ("Abdomen
5.0 B30f"), so contrast and time order must carry the decision on their own then.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from hccer.ingest.dicomio import SliceHeader

# Canonical roles of a dynamic contrast study, in acquisition order, and their names per modality.
ROLES = ("pre", "arterial", "portal", "delayed")
PHASE_NAMES = {
    "CT": {"pre": "NC", "arterial": "ART", "portal": "PV", "delayed": "DL"},
    "MR": {"pre": None, "arterial": "AP", "portal": "PVP", "delayed": "DP"},
}
DESCRIPTION_PATTERNS = {
    "pre": r"\b(non[-_ ]?con(trast)?|nc|plain|native|pre([-_ ]?(contrast|con|gd))?|"
           r"unenhanced|non[-_ ]?enhanced|without|w/?o)\b",
    "arterial": r"\b(art(erial)?|ap|hap|late[-_ ]?art(erial)?|early[-_ ]?art(erial)?)\b",
    "portal": r"\b(portal([-_ ]?venous)?|pv|pvp|portovenous|venous)\b",
    "delayed": r"\b(delay(ed)?|dl|dp|equilibrium|eq|late(?![-_ ]?art)|transitional|"
               r"\d+[-_ ]?min)\b",
}
LOCALIZER_RE = re.compile(r"\b(scout|localizer|localiser|topogram|survey|surview|loc)\b", re.I)
T2_RE = re.compile(r"(\bt2|haste|ssfse|ssh[-_ ]?tse|\btse\b|stir|flair|mrcp)", re.I)
DWI_RE = re.compile(r"(dwi|diff|ivim|\badc\b|ep2d[-_]?diff|\bb\d{2,4}\b)", re.I)
# Delay after bolus start (s) separating arterial / portal / delayed when the header has it.
DELAY_LIMITS_S = (50.0, 120.0)
UNUSABLE = "cannot form a volume"
SAME_ACQ_S = 5.0  # series acquired within this many seconds are reconstructions of one scan


def modality_of_study(study_modality: str) -> str:
    return "CT" if study_modality.upper() == "CT" else "MR"


def series_key(series_uid: str, split_index: int) -> str:
    """Short stable key: 10 hex digits of SHA-256(uid) + a letter per split part."""
    return hashlib.sha256(series_uid.encode()).hexdigest()[:10] + "abcdefghijklmnopqrstuvwxyz"[
        split_index % 26]


def _cluster(values: Sequence, close) -> list[int]:
    """Label each value with the first earlier cluster it is close to (order-stable)."""
    reps: list = []
    labels = []
    for v in values:
        for k, rep in enumerate(reps):
            if close(v, rep):
                labels.append(k)
                break
        else:
            reps.append(v)
            labels.append(len(reps) - 1)
    return labels


def _geom_key(h: SliceHeader):
    return (h.modality, h.rows, h.cols, h.pixel_spacing or (0.0, 0.0), h.iop or (0.0,) * 6,
            -1.0 if h.echo_time is None else h.echo_time)


def _close_geom(a, b) -> bool:
    return (a[:3] == b[:3] and np.allclose(a[3], b[3], atol=1e-3)
            and np.allclose(a[4], b[4], atol=1e-3) and abs(a[5] - b[5]) < 0.01)


def _has_duplicates(hs: Sequence[SliceHeader]) -> bool:
    """True if two slices share a position along the normal within one b-value."""
    if any(h.iop is None or h.ipp is None for h in hs):
        return False
    from hccer.ingest.geometry import frame

    _, _, n = frame(hs[0].iop)
    seen: dict = {}
    for h in hs:
        key = (None if h.b_value is None else round(h.b_value, 3), round(float(np.dot(h.ipp, n)),
                                                                          2))
        if key in seen:
            return True
        seen[key] = h
    return False


def group_series(headers: Sequence[SliceHeader]) -> list[dict]:
    """Group slices by SeriesInstanceUID and split series that mix acquisitions.

    A series is split by orientation / matrix / pixel spacing / echo time, and, when the same
    slice position occurs twice (and b-values do not explain it), by AcquisitionNumber or
    TemporalPositionIdentifier (an enhanced file's FrameAcquisitionNumber or
    TemporalPositionIndex), then ImageType (an enhanced file's FrameType: magnitude and phase
    frames of one acquisition). Headers may be frames of enhanced files (`SliceHeader.frame`).
    Returns dicts with `key`, `series_uid`, `split`, `headers`, `split_reason` (empty when
    unsplit).
    """
    by_uid: dict[str, list[SliceHeader]] = {}
    for h in headers:
        by_uid.setdefault(h.series_uid, []).append(h)
    groups = []
    for uid, hs in by_uid.items():
        labels = _cluster([_geom_key(h) for h in hs], _close_geom)
        parts = [[h for h, lab in zip(hs, labels, strict=True) if lab == k]
                 for k in range(max(labels) + 1)]
        reasons = ["orientation/matrix/spacing/echo time"] if len(parts) > 1 else []
        final = []
        for part in parts:
            if _has_duplicates(part):
                for attr in ("acq_number", "temporal_id", "image_type"):
                    values = sorted({getattr(h, attr) for h in part if getattr(h, attr)
                                     is not None})
                    if len(values) < 2 or any(getattr(h, attr) is None for h in part):
                        continue
                    sub = [[h for h in part if getattr(h, attr) == v] for v in values]
                    if not any(_has_duplicates(s) for s in sub):
                        final.extend(sub)
                        reasons.append(attr.replace("_", " "))
                        break
                else:
                    final.append(part)
            else:
                final.append(part)
        final.sort(key=lambda p: (min((h.acq_time_s for h in p if h.acq_time_s is not None),
                                      default=0.0), str(p[0].path)))
        for i, part in enumerate(final):
            part.sort(key=lambda h: (str(h.path), h.frame or 0))
            groups.append({"key": series_key(uid, i), "series_uid": uid, "split": i,
                           "n_parts": len(final), "headers": part,
                           "split_reason": ", ".join(dict.fromkeys(reasons)) if len(final) > 1
                           else ""})
    groups.sort(key=lambda g: (min((h.acq_time_s for h in g["headers"] if h.acq_time_s
                                    is not None), default=0.0), g["key"]))
    return groups


def description_role(text: str) -> str | None:
    """The role a SeriesDescription names, or None if it names none or several."""
    hits = [role for role, pat in DESCRIPTION_PATTERNS.items() if re.search(pat, text, re.I)]
    if len(hits) == 2 and "arterial" in hits and "delayed" in hits and re.search(
            r"late[-_ ]?art", text, re.I):
        return "arterial"
    return hits[0] if len(hits) == 1 else None


def exclusion(rec: dict, study_modality: str) -> str | None:
    """Why a series cannot be a phase of this study (None if it can)."""
    want = modality_of_study(study_modality)
    if rec["modality"] != want:
        return f"modality {rec['modality'] or 'missing'} (study needs {want})"
    itype = " ".join(rec["image_type"])
    if "LOCALIZER" in itype or LOCALIZER_RE.search(rec["description"]):
        return "localizer / scout"
    if rec.get("geometry_error"):
        return UNUSABLE
    if rec["orientation"] and rec["orientation"] != "axial":
        return f"non-axial orientation ({rec['orientation']})"
    if rec["n_slices"] < 3:
        return f"only {rec['n_slices']} slice(s)"
    is_dwi = len(rec["b_values"]) >= 2
    if study_modality.upper() == "DWI":
        return None if is_dwi else "not a multi-b diffusion series"
    if want == "MR":
        if is_dwi or DWI_RE.search(rec["description"]) or "ADC" in itype:
            return "diffusion series"
        if T2_RE.search(rec["description"]) or (rec["echo_time"] or 0) > 40:
            return "T2-weighted series"
    return None


def classify_series(records: list[dict], study_modality: str, *,
                    b_values: Sequence[float] | None = None) -> list[dict]:
    """Assign each series record a phase, a confidence in [0, 1] and the evidence used.

    `records` are triage summaries (keys: modality, description, image_type, contrast,
    acq_time_s, bolus_start_s, b_values, echo_time, orientation, n_slices). Returns, per record,
    {"phase": str|None, "confidence": float, "evidence": [str], "excluded": str|None}.
    """
    out = [{"phase": None, "confidence": 0.0, "evidence": [], "excluded": exclusion(r,
                                                                                   study_modality)}
           for r in records]
    # Unusable series (corrupt file, no consistent volume) still took part in the scan: they
    # keep their place in the time order and get a phase, but are never selected.
    cand = [i for i, o in enumerate(out) if o["excluded"] in (None, UNUSABLE)]
    if study_modality.upper() == "DWI":
        want = {round(float(b), 3) for b in (b_values or [])}
        for i in cand:
            _classify_diffusion(records[i], out[i], want)
        return out
    names = PHASE_NAMES[modality_of_study(study_modality)]
    desc_roles = {i: description_role(records[i]["description"]) for i in cand}
    contrast = {i: bool(records[i]["contrast"]) for i in cand}
    # The agent tag is evidence when some series carry it; when every candidate does (the
    # pre-contrast T1 often is a T2 distractor or absent), all are taken as enhanced unless
    # their description says pre-contrast.
    informative = any(contrast.values())
    timed = [i for i in cand if records[i]["acq_time_s"] is not None]
    time_role, time_note = _time_roles(records, timed, desc_roles, contrast, informative)
    first_post = min((records[i]["acq_time_s"] for i in timed if contrast[i]), default=None)
    for i in cand:
        _classify_dynamic(records[i], out[i], names, desc_roles[i], time_role.get(i),
                          time_note.get(i), contrast[i], informative, first_post)
    return out


def _classify_diffusion(r: dict, o: dict, want: set[float]) -> None:
    """Phase DWI, with confidence from the description and the study's b-values `want`."""
    have = {round(b, 3) for b in r["b_values"]}
    conf = 0.5
    o["evidence"].append(f"{len(have)} b-values")
    if DWI_RE.search(r["description"]):
        conf += 0.25
        o["evidence"].append("description names diffusion")
    if want and want <= have:
        conf += 0.25
        o["evidence"].append("all study b-values present")
    elif want:
        o["evidence"].append(f"missing study b-values {sorted(want - have)}")
    o["phase"], o["confidence"] = "DWI", conf


def _time_roles(records: list[dict], timed: list[int], desc_roles: dict, contrast: dict,
                informative: bool) -> tuple[dict[int, str], dict[int, str]]:
    """Role each timed series takes from the delay after bolus start or from the time order of
    acquisitions, and the evidence note saying so."""
    time_role: dict[int, str] = {}
    time_note: dict[int, str] = {}
    pool = ([i for i in timed if contrast[i] and desc_roles[i] != "pre"] if informative
            else timed)
    seq = ROLES[1:] if informative else ROLES
    if not pool:
        return time_role, time_note
    pool.sort(key=lambda i: records[i]["acq_time_s"])
    labels = _cluster([records[i]["acq_time_s"] for i in pool],
                      lambda a, b: abs(a - b) <= SAME_ACQ_S)
    n_clusters = max(labels) + 1
    for i, lab in zip(pool, labels, strict=True):
        r = records[i]
        if informative and r.get("bolus_start_s") is not None:
            delay = r["acq_time_s"] - r["bolus_start_s"]
            role = ("arterial" if delay < DELAY_LIMITS_S[0] else
                    "portal" if delay < DELAY_LIMITS_S[1] else "delayed")
            time_role[i], time_note[i] = role, f"{delay:.0f} s after bolus start"
        elif informative or n_clusters == len(ROLES):
            role = seq[min(lab, len(seq) - 1)]
            time_role[i] = role
            what = "enhanced series" if informative else "series"
            time_note[i] = f"acquisition {lab + 1} of {n_clusters} {what} by time"
    return time_role, time_note


def _classify_dynamic(r: dict, o: dict, names: dict, d_role: str | None, t_role: str | None,
                      t_note: str | None, has_contrast: bool, informative: bool,
                      first_post: float | None) -> None:
    """Phase and confidence of one series of a dynamic contrast study."""
    ev = o["evidence"]
    # Each independent piece of evidence adds to (or, when it conflicts, subtracts from)
    # the confidence: description 0.5; a role derived from the headers alone starts at 0.25.
    if d_role:
        role, conf = d_role, 0.5
        ev.append(f"description names {d_role}")
    elif informative and not has_contrast:
        role, conf = "pre", 0.25
    elif t_role:
        role, conf = t_role, 0.25
    else:
        ev.append("no phase evidence")
        return
    if informative:
        consistent = has_contrast == (role != "pre")
        ev.append(f"contrast agent {'present' if has_contrast else 'absent'}"
                  + ("" if consistent else " (conflicts)"))
        conf += 0.25 if consistent else -0.25
    conf = _timing_evidence(r, ev, conf, role, t_role, t_note, informative, first_post)
    if any(t in r["image_type"] for t in ("DERIVED", "SECONDARY")):
        conf -= 0.2
        ev.append("derived image")
    o["phase"] = names.get(role)
    o["confidence"] = float(min(1.0, max(0.0, conf)))
    if o["phase"] is None:
        ev.append(f"{role} series is not a phase of an MR dynamic study")


def _timing_evidence(r: dict, ev: list[str], conf: float, role: str, t_role: str | None,
                     t_note: str | None, informative: bool, first_post: float | None) -> float:
    """The confidence after weighing acquisition time against `role`."""
    if role == "pre":
        if informative and first_post is not None and r["acq_time_s"] is not None:
            before = r["acq_time_s"] < first_post
            ev.append("acquired before enhanced series" if before
                      else "acquired after enhanced series (conflicts)")
            conf += 0.25 if before else -0.25
        elif t_role == "pre":
            conf += 0.25
            ev.append(t_note)
    elif t_role:
        if t_role == role:
            bolus = informative and r.get("bolus_start_s") is not None
            conf += 0.35 if bolus else 0.25
            ev.append(t_note)
        else:
            conf -= 0.15
            ev.append(f"{t_note} suggests {t_role} (conflicts)")
    return conf


def select_phases(records: list[dict], classes: list[dict], phases: Sequence[str], *,
                  min_confidence: float = 0.4, margin: float = 0.1):
    """Pick at most one series per phase. Returns (picked {phase: index}, problems, warnings).

    Ties within `margin` between series of different acquisitions are ambiguous: nothing is
    picked and a problem is reported (resolve with an override manifest). Ties between
    reconstructions of one acquisition pick the one with most slices, with a warning.
    """
    picked, problems, warnings = {}, [], []
    for phase in phases:
        cands = sorted((i for i, c in enumerate(classes)
                        if c["phase"] == phase and c["excluded"] is None),
                       key=lambda i: (-classes[i]["confidence"], -records[i]["n_slices"],
                                      records[i]["key"]))
        if not cands:
            continue
        best = cands[0]
        if classes[best]["confidence"] < min_confidence:
            problems.append(f"phase {phase}: only low-confidence candidate series "
                            f"{records[best]['key']} ({classes[best]['confidence']:.2f})")
            continue
        rivals = [i for i in cands[1:]
                  if classes[best]["confidence"] - classes[i]["confidence"] < margin]
        same_acq = [i for i in rivals if records[i]["acq_time_s"] is not None
                    and records[best]["acq_time_s"] is not None
                    and abs(records[i]["acq_time_s"] - records[best]["acq_time_s"]) <= SAME_ACQ_S]
        if len(same_acq) < len(rivals):
            keys = ", ".join(records[i]["key"] for i in [best, *rivals])
            problems.append(f"phase {phase} is ambiguous: series {keys} match equally well; "
                            "choose one in an override manifest")
            continue
        if same_acq:
            warnings.append(f"phase {phase}: {len(same_acq) + 1} reconstructions of one "
                            f"acquisition; chose {records[best]['key']} "
                            f"({records[best]['n_slices']} slices)")
        picked[phase] = best
    return picked, problems, warnings
