"""Enhanced multi-frame DICOM (one file per series): the same data as single-frame slices gives
the same image; dcm2niix agrees on voxels and geometry; triage groups, splits and lists its
frames; bad enhanced files raise InputError naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicomfactory import CANARIES, write_enhanced, write_series
from hccer.cli import main
from hccer.errors import InputError
from hccer.ingest.convert import read_series, write_nifti
from hccer.ingest.dicomio import scan_dir
from hccer.ingest.triage import triage_patient
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform

DCM2NIIX = Path(sys.executable).parent / "dcm2niix"
STUDIES = Path(__file__).resolve().parents[2] / "config" / "studies"
OBLIQUE = (0.8660254, 0.5, 0.0, -0.1710101, 0.2961981, 0.9396926)  # orthonormal, 20 deg off


def arrays_and_geometry(img):
    return (sitk.GetArrayFromImage(img), img.GetSize(), img.GetOrigin(), img.GetSpacing(),
            img.GetDirection())


def assert_same_image(a, b):
    (xa, *ga), (xb, *gb) = arrays_and_geometry(a), arrays_and_geometry(b)
    assert xa.dtype == xb.dtype and np.array_equal(xa, xb)
    assert ga == gb


def ras_affine(img) -> np.ndarray:
    """The NIfTI (RAS) affine of a SimpleITK image: LPS -> RAS flips x and y."""
    dim = 3
    d = np.asarray(img.GetDirection()).reshape(img.GetDimension(), -1)[:dim, :dim]
    aff = np.eye(4)
    aff[:3, :3] = d * np.asarray(img.GetSpacing()[:dim])
    aff[:3, 3] = img.GetOrigin()[:dim]
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff


def dcm2niix(src: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True)
    subprocess.run([str(DCM2NIIX), "-b", "n", "-z", "n", "-f", "%s_%r", "-o", str(out),
                    str(src)], check=True, capture_output=True)
    return sorted(out.glob("*.nii"))


def compare_with_dcm2niix(img, nii: Path) -> dict:
    """dcm2niix's volume reoriented onto our voxel axes: assert equal voxels and affines
    within 1e-3 mm; return the largest affine difference."""
    theirs = nib.load(nii)
    data = np.asanyarray(theirs.dataobj)
    ours_aff = ras_affine(img)
    xform = ornt_transform(io_orientation(theirs.affine), io_orientation(ours_aff))
    data = apply_orientation(data, xform)
    aff = theirs.affine @ inv_ornt_aff(xform, theirs.shape[:3])
    ours = sitk.GetArrayFromImage(img)
    ours = ours.transpose(2, 1, 0) if ours.ndim == 3 else ours.transpose(3, 2, 1, 0)
    data = data.reshape(ours.shape)  # dcm2niix may keep a trailing 1-long axis
    diff = float(np.abs(aff - ours_aff).max())
    assert diff <= 1e-3, (aff, ours_aff)
    assert np.array_equal(data.astype(np.float64), ours.astype(np.float64))
    return {"affine_max_diff_mm": diff, "voxels": int(ours.size)}


@pytest.mark.parametrize("shared", [("orientation", "measures", "transform"), ()],
                         ids=["shared-groups", "per-frame-groups"])
def test_enhanced_ct_equals_its_single_frame_series(tmp_path, shared):
    files = write_series(tmp_path / "s", n=7, slope=0.5, intercept=-1000.0)
    enh = write_enhanced(files, tmp_path / "e" / "ct.dcm", shared=shared)
    single, m1 = read_series(files)
    multi, m2 = read_series([enh])
    assert_same_image(single, multi)
    assert m2["multiframe"] and m2["n_files"] == 1 and m2["n_slices"] == 7
    for key in ("geometry", "b_values", "series_number", "description", "dtype", "modality"):
        assert m1[key] == m2[key]
    assert not any(v in json.dumps(m2) for v in CANARIES.values())


@pytest.mark.parametrize("kwargs", [{}, {"directional": True, "shared": ()}, {"rle": True},
                                    {"legacy": True}],
                         ids=["enhanced", "directional-frames", "rle", "legacy-converted"])
def test_enhanced_dwi_gives_the_same_4d_volume_and_bval(tmp_path, kwargs):
    files = write_series(tmp_path / "d", n=4, modality="MR", description="ep2d_diff ivim",
                         b_values=[800, 0, 100], b_tag="philips", intercept=0.0)
    enh = write_enhanced(files, tmp_path / "e" / "dwi.dcm", **kwargs)
    single, m1 = read_series(files)
    multi, m2 = read_series([enh])
    assert multi.GetSize() == (10, 8, 4, 3) and m2["b_values"] == [0.0, 100.0, 800.0]
    assert_same_image(single, multi)
    write_nifti(multi, m2, tmp_path / "o" / "dwi.nii.gz")
    assert (tmp_path / "o" / "dwi.bval").read_text().split() == ["0", "100", "800"]


@pytest.mark.parametrize("layout", ["tilted", "uneven", "oblique"])
def test_resampled_and_oblique_stacks_equal_their_single_frame_series(tmp_path, layout):
    kwargs = {"tilted": {"n": 6, "step": (0.0, 1.2, 3.0)},
              "uneven": {"positions": [0, 2, 4, 7, 9, 11]},
              "oblique": {"positions": [0, 2.5, 5, 7.5, 10], "iop": OBLIQUE}}[layout]
    files = write_series(tmp_path / "s", **kwargs)
    single, m1 = read_series(files)
    multi, m2 = read_series([write_enhanced(files, tmp_path / "e" / "x.dcm")])
    assert_same_image(single, multi)
    assert m1["warnings"] == m2["warnings"]


@pytest.mark.parametrize("kind", ["ct-oblique", "ct-rle", "dwi"])
def test_synthetic_enhanced_matches_dcm2niix(tmp_path, kind):
    """We sort frames by position, whatever their order in the file. dcm2niix sorts them by
    in-stack position (for a Philips 4-D file by dimension index: so DWI is labelled Philips)
    and takes the slice step from SpacingBetweenSlices (given, as scanners write it); it keeps
    the stored order of compressed frames, so the RLE file stores them in order."""
    if kind == "dwi":
        files = write_series(tmp_path / "s", n=4, modality="MR", b_values=[800, 0, 100],
                             description="ep2d_diff", intercept=0.0)
        step = 3.0
    else:
        files = write_series(tmp_path / "s", positions=[0, 2.5, 5, 7.5, 10, 12.5],
                             iop=OBLIQUE, rows=12, cols=9)
        step = 2.5
    enh = write_enhanced(files, tmp_path / "e" / "x.dcm", rle=kind == "ct-rle",
                         shuffle=kind != "ct-rle", spacing_between=step,
                         manufacturer="Philips" if kind == "dwi" else None)
    img, _ = read_series([enh])
    (nii,) = dcm2niix(tmp_path / "e", tmp_path / "ref")
    compare_with_dcm2niix(img, nii)  # dcm2niix numbers DWI volumes by temporal index = by b
    if kind != "dwi":  # (dcm2niix keeps single-frame DWI volumes in acquisition order)
        (nii_single,) = dcm2niix(tmp_path / "s", tmp_path / "ref_single")
        compare_with_dcm2niix(img, nii_single)


def test_real_legacy_converted_enhanced_mr_matches_dcm2niix(shared_data, tmp_path):
    """The IBSI digital phantom as Legacy Converted Enhanced MR (PixelMed): coronal, 4 frames
    stored in descending position; must sort them along the normal (+y) as dcm2niix does."""
    src = shared_data / "radiomics" / "ibsi1_digital_phantom" / "dicom" / "image"
    img, meta = read_series([src / "phantom.dcm"])
    # The DICOM says 1 mm (PixelSpacing, SliceThickness); the bundle's NIfTI says 2 mm.
    assert img.GetSize() == (5, 4, 4) and img.GetSpacing() == (1.0, 1.0, 1.0)
    assert meta["geometry"]["orientation"] == "coronal" and meta["multiframe"]
    assert set(np.unique(sitk.GetArrayFromImage(img)).tolist()) == {1, 3, 4, 6, 9}
    (nii,) = dcm2niix(src, tmp_path / "ref")
    compare_with_dcm2niix(img, nii)
    # The same phantom as NIfTI in the bundle holds the same voxel values.
    ref = sitk.ReadImage(str(shared_data / "radiomics" / "ibsi1_digital_phantom" / "nifti"
                             / "image" / "phantom.nii.gz"))
    assert sorted(sitk.GetArrayFromImage(ref).ravel()) == sorted(
        sitk.GetArrayFromImage(img).ravel())


@pytest.mark.parametrize("name", ["emri_small.dcm", "emri_small_big_endian.dcm",
                                  "emri_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm"])
def test_pydicom_enhanced_mr_test_files_match_dcm2niix(tmp_path, name):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)  # pydicom-data cache only: never the network
    if path is None:
        pytest.skip(f"{name} is not in pydicom's offline test data")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / name).write_bytes(Path(path).read_bytes())
    img, meta = read_series([tmp_path / "in" / name])
    assert meta["multiframe"]
    niis = dcm2niix(tmp_path / "in", tmp_path / "ref")
    compare_with_dcm2niix(img, niis[0])


def ct_enhanced_patient(root: Path) -> Path:
    """NC / ART / PV as one enhanced CT file each, identical descriptions."""
    for folder, time, agent in (("A", "101000", None), ("B", "101210", "Iohexol"),
                                ("C", "101245", "Iohexol")):
        files = write_series(root.parent / "src" / folder, acq_time=time, contrast=agent)
        write_enhanced(files, root / folder / "IM_0001")
    return root


def test_triage_classifies_enhanced_series_and_convert_reads_the_status(tmp_path):
    import yaml

    root = ct_enhanced_patient(tmp_path / "P")
    study = yaml.safe_load((STUDIES / "deep_fusion.yaml").read_text())
    rows, status = triage_patient(root, "p1", study)
    assert status["ok"], status["problems"]
    by = {r["folder"]: r for r in rows}
    assert {k: by[k]["phase"] for k in by} == {"A": "NC", "B": "ART", "C": "PV"}
    assert all(r["n_files"] == 1 and r["n_slices"] == 6 for r in rows)
    entry = status["series"][status["phases"]["ART"]]
    assert entry["files"] == ["IM_0001"] and entry["frames"] == {"IM_0001": list(range(6))}
    sfile = tmp_path / "s.json"
    sfile.write_text(json.dumps(status))
    out = tmp_path / "art.nii.gz"
    assert main(["convert", str(root / "B"), str(out), "--from-status", str(sfile),
                 "--phase", "ART"]) == 0
    assert sitk.ReadImage(str(out)).GetSize() == (10, 8, 6)
    text = json.dumps(status) + "".join(json.dumps(r) for r in rows)
    assert not any(v in text for v in CANARIES.values())


def test_enhanced_dynamic_file_splits_by_temporal_position(tmp_path):
    """Two contrast phases in one enhanced MR file (same positions, temporal positions 1, 2):
    triage splits it into two series and lists each one's frames; read_series with those
    frames converts each phase alone."""
    src = tmp_path / "src"
    a = write_series(src, modality="MR", prefix="A", series_uid="1.2.3.7", acq_time="101210",
                     contrast="Gd", acq_numbers=[1] * 6, intercept=0.0)
    b = write_series(src, modality="MR", prefix="B", series_uid="1.2.3.7", acq_time="101300",
                     contrast="Gd", acq_numbers=[2] * 6, intercept=0.0, field=lambda p: 500
                     + p[..., 0])
    enh = write_enhanced(a + b, tmp_path / "P" / "dyn" / "IM_0001")
    headers, _, _ = scan_dir(tmp_path / "P")
    assert len(headers) == 12 and {h.temporal_id for h in headers} == {1, 2}
    with pytest.raises(InputError, match=r"duplicate slice position: IM_0001 frame \d+ and "
                                         r"IM_0001 frame \d+"):
        read_series([enh])
    from hccer.ingest.classify import group_series
    from hccer.ingest.triage import _summary  # the status record of one group

    groups = group_series(headers)
    assert len(groups) == 2 and groups[0]["split_reason"] == "acq number"
    for g, files in zip(groups, (a, b), strict=True):
        rec = _summary(g, tmp_path / "P")
        assert rec["files"] == ["IM_0001"] and len(rec["frames"]["IM_0001"]) == 6
        img, _ = read_series([enh], frames={"IM_0001": rec["frames"]["IM_0001"]})
        assert_same_image(img, read_series(files)[0])


def _enhanced_ds(tmp_path):
    files = write_series(tmp_path / "s", n=4)
    return pydicom.dcmread(write_enhanced(files, tmp_path / "e" / "IM_0001"))


@pytest.mark.parametrize("damage, message", [
    ("no-position", r"image \(IM_0001 frame \d\) without ImagePositionPatient"),
    ("frame-count", r"enhanced DICOM lists 4 per-frame functional groups for 5 frames"),
    ("truncated", r"truncated or corrupt (DICOM: )?pixel data"),
    ("legacy-multiframe", r"multi-frame DICOM \(4 frames in one file\) of SOP class "
                          r"1\.2\.840\.10008\.5\.1\.4\.1\.1\.2 without per-frame functional"),
    ("bad-frame-list", r"frame 9 is not an image frame of this file \(4 frames\)"),
])
def test_bad_enhanced_files_raise_input_error_naming_the_file(tmp_path, damage, message):
    ds = _enhanced_ds(tmp_path)
    path = tmp_path / "bad" / "IM_0001"
    path.parent.mkdir()
    frames = None
    if damage == "no-position":
        del ds.PerFrameFunctionalGroupsSequence[2].PlanePositionSequence
    elif damage == "frame-count":
        ds.NumberOfFrames = 5
        ds.PixelData = ds.PixelData + ds.PixelData[: len(ds.PixelData) // 4]
    elif damage == "legacy-multiframe":
        del ds.PerFrameFunctionalGroupsSequence
        del ds.SharedFunctionalGroupsSequence
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.CTImageStorage
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
    elif damage == "bad-frame-list":
        frames = {"IM_0001": [0, 8]}
    ds.save_as(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(InputError, match=message) as err:
        read_series([path], patient="pX", frames=frames)
    text = err.value.message()
    assert "IM_0001" in text and "patient pX" in text and "\n" not in text
    assert not any(v in text for v in CANARIES.values())
    if damage in ("no-position", "frame-count", "truncated"):
        _, _, bad = scan_dir(tmp_path / "bad")
        assert len(bad) == 1 or damage == "no-position"  # geometry is checked later, by triage
