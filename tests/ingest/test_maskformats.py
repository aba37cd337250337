"""Masks in hospital export formats (multi-label NIfTI, DICOM-SEG, RTSTRUCT) read onto the grid
of the series as this project converts it. Every DICOM mask is made from a known NIfTI-style
array on that grid, so the expected result is known voxel for voxel."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicomfactory import CANARIES
from hccer.errors import InputError
from hccer.ingest.convert import read_series
from hccer.ingest.geometry import same_grid
from hccer.ingest.maskformats import (
    check_reference,
    instance_index,
    load_mask,
    mask_kind,
    referenced_series_uid,
)
from hccer.ingest.masks import mask_geometry
from maskfactory import (
    ellipsoid,
    grid_points,
    rtutils_readback,
    shuffle_seg_frames,
    write_ct,
    write_rtstruct,
    write_rtstruct_by_hand,
    write_seg,
)

highdicom = pytest.importorskip("highdicom")


def array(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def clean_error(exc: pytest.ExceptionInfo, name: str) -> str:
    """The message, checked: names the file by basename, one line, nothing identifying."""
    text = str(exc.value)
    assert f"file {name}:" in text
    assert "\n" not in text and "/" not in text.split(":", 1)[0]
    for value in CANARIES.values():
        assert value.split("^")[0].lower() not in text.lower()
    return text


def assert_on_grid(image: sitk.Image, reference: sitk.Image) -> None:
    assert same_grid(mask_geometry(image), mask_geometry(reference)) == []
    assert image.GetPixelID() == sitk.sitkUInt8


@pytest.fixture(scope="module", params=[0.0, 30.0], ids=["axial", "rotated30"])
def case(request, tmp_path_factory):
    """A converted CT series (plain axial, or rotated 30 deg in plane), a tumour ellipsoid and
    a second structure on its grid, with the SEG and the rt-utils RTSTRUCT made from them."""
    root = tmp_path_factory.mktemp("masks")
    files = write_ct(root / "ct", angle_deg=request.param)
    reference, _ = read_series(files)
    shape = reference.GetSize()[::-1]
    tumour = ellipsoid(shape, (30.3, 33.7, 5.6), (12.2, 9.1, 3.7))
    other = ellipsoid(shape, (18.0, 20.0, 4.0), (6.0, 5.0, 2.0))
    nifti = root / "tumour.nii.gz"
    image = sitk.GetImageFromArray(tumour)
    image.CopyInformation(reference)
    sitk.WriteImage(image, str(nifti))
    seg = write_seg(root / "seg.dcm", files, {"tumour": tumour, "cyst": other})
    return {"root": root, "files": files, "reference": reference, "tumour": tumour,
            "other": other, "nifti": nifti, "seg": seg,
            "series_uid": str(pydicom.dcmread(files[0]).SeriesInstanceUID)}


# ---------------------------------------------------------------------------- kinds


def test_kind_comes_from_the_header_not_the_extension(case, tmp_path):
    assert mask_kind(case["nifti"]) == "image"
    assert mask_kind(case["seg"]) == "seg"
    disguised = tmp_path / "mask.nii.gz"
    shutil.copy(case["seg"], disguised)
    assert mask_kind(disguised) == "seg"
    nifti_as_dcm = tmp_path / "mask.dcm"
    shutil.copy(case["nifti"], nifti_as_dcm)
    assert mask_kind(nifti_as_dcm) == "image"
    rt = write_rtstruct_by_hand(tmp_path / "rt.dcm", case["series_uid"], {"t": []})
    assert mask_kind(rt) == "rtstruct"


def test_a_ct_slice_is_not_a_mask(case):
    with pytest.raises(InputError) as exc:
        mask_kind(case["files"][0])
    assert "CT Image Storage" in clean_error(exc, case["files"][0].name)


# ------------------------------------------------------------------------------ SEG


@pytest.mark.parametrize("by_source", [True, False], ids=["by-source-image", "by-position"])
def test_seg_equals_the_nifti_mask_by_label_and_number(case, by_source):
    files = case["files"] if by_source else None
    nifti = array(sitk.ReadImage(str(case["nifti"])))
    for segment, expected in (("tumour", nifti), ("1", nifti), ("cyst", case["other"]),
                              ("2", case["other"])):
        mask = load_mask(case["seg"], segment=segment, series_files=files,
                         reference=case["reference"])
        assert_on_grid(mask, case["reference"])
        assert np.array_equal(array(mask), expected), segment


@pytest.mark.parametrize("by_source", [True, False], ids=["by-source-image", "by-position"])
def test_seg_with_shuffled_frames_is_still_placed_right(case, tmp_path, by_source):
    seg = tmp_path / "shuffled.dcm"
    shutil.copy(case["seg"], seg)
    order = shuffle_seg_frames(seg)
    assert order != sorted(order)
    mask = load_mask(seg, segment="tumour", series_files=case["files"] if by_source else None,
                     reference=case["reference"])
    assert np.array_equal(array(mask), case["tumour"])


def test_seg_segment_choice(case, tmp_path):
    with pytest.raises(InputError) as exc:
        load_mask(case["seg"], reference=case["reference"])
    text = clean_error(exc, "seg.dcm")
    assert "1 'tumour'" in text and "2 'cyst'" in text
    with pytest.raises(InputError) as exc:
        load_mask(case["seg"], segment="Tumour", reference=case["reference"])
    assert "no segment 'Tumour'" in clean_error(exc, "seg.dcm") and "'cyst'" in str(exc.value)
    single = write_seg(tmp_path / "one.dcm", case["files"], {"lesion": case["tumour"]})
    assert np.array_equal(array(load_mask(single, reference=case["reference"])), case["tumour"])


def test_fractional_seg_is_thresholded_at_one_half(case, tmp_path):
    soft = case["tumour"] * 0.75 + case["other"] * 0.25  # the cyst stays below 0.5
    seg = write_seg(tmp_path / "frac.dcm", case["files"], {"p": soft}, kind="FRACTIONAL")
    for files in (case["files"], None):
        mask = load_mask(seg, series_files=files, reference=case["reference"])
        assert np.array_equal(array(mask), case["tumour"])


def test_label_map_seg(case, tmp_path):
    cyst = case["other"]
    tumour = case["tumour"] & (1 - cyst)  # label maps hold one segment per voxel
    seg = write_seg(tmp_path / "labelmap.dcm", case["files"], {"tumour": tumour, "cyst": cyst},
                    kind="LABELMAP")
    assert pydicom.dcmread(seg).SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.7"
    assert mask_kind(seg) == "seg"
    for files in (case["files"], None):
        for segment, expected in (("tumour", tumour), ("2", cyst)):
            mask = load_mask(seg, segment=segment, series_files=files,
                             reference=case["reference"])
            assert np.array_equal(array(mask), expected), segment


def test_seg_of_another_series(case, tmp_path):
    other_files = write_ct(tmp_path / "ct2", series_uid="1.2.826.0.1.3680043.8.498.555")
    seg = write_seg(tmp_path / "seg2.dcm", other_files, {"tumour": case["tumour"]})
    assert referenced_series_uid(seg) == "1.2.826.0.1.3680043.8.498.555"
    assert check_reference(case["seg"], case["series_uid"]) is None
    problem = check_reference(seg, case["series_uid"])
    assert problem == ("mask refers to series 1.2.826.0.1.3680043.8.498.555, but the manifest "
                       f"chose series {case['series_uid']} for this phase")
    with pytest.raises(InputError) as exc:
        load_mask(seg, series_files=case["files"], reference=case["reference"])
    assert "none of the DICOM-SEG's frames" in clean_error(exc, "seg2.dcm")


def test_seg_series_from_referenced_images_when_the_header_names_none(case, tmp_path):
    ds = pydicom.dcmread(case["seg"])
    del ds.ReferencedSeriesSequence
    bare = tmp_path / "bare.dcm"
    ds.save_as(bare, enforce_file_format=True)
    assert referenced_series_uid(bare) is None
    index = instance_index(case["files"])
    assert referenced_series_uid(bare, instances=index) == case["series_uid"]
    assert check_reference(bare, case["series_uid"], instances=index) is None
    assert "cannot confirm" in check_reference(bare, case["series_uid"])


def test_seg_off_the_reference_grid_is_refused(case):
    shifted = sitk.Image(case["reference"])
    d = np.asarray(shifted.GetDirection()).reshape(3, 3)
    shifted.SetOrigin(tuple(np.asarray(shifted.GetOrigin()) + 0.5 * shifted.GetSpacing()[0]
                            * d[:, 0]))
    for files in (case["files"], None):
        with pytest.raises(InputError) as exc:
            load_mask(case["seg"], segment="tumour", series_files=files, reference=shifted)
        assert "off the series' voxel lattice" in clean_error(exc, "seg.dcm")
    finer = sitk.Image(case["reference"])
    finer.SetSpacing((0.7, 0.7, finer.GetSpacing()[2]))
    with pytest.raises(InputError) as exc:
        load_mask(case["seg"], segment="tumour", reference=finer)
    assert "pixel spacing" in clean_error(exc, "seg.dcm")


def test_dicom_masks_need_the_reference(case):
    with pytest.raises(ValueError):
        load_mask(case["seg"], segment="tumour")


# ------------------------------------------------------------------------- RTSTRUCT


def test_rtstruct_from_rt_utils_equals_the_mask_and_rt_utils_readback(case, tmp_path):
    pytest.importorskip("rt_utils")
    rng = np.random.default_rng(1)
    # ragged: holes, single voxels and diagonal-only links, where contouring is hardest
    ragged = (case["tumour"] & (rng.random(case["tumour"].shape) > 0.3)).astype(np.uint8)
    rois = {"tumour": case["tumour"], "cyst": case["other"], "ragged": ragged}
    rt = write_rtstruct(tmp_path / "rt.dcm", case["root"] / "ct", rois)
    assert mask_kind(rt) == "rtstruct"
    assert referenced_series_uid(rt) == case["series_uid"]
    for name, original in rois.items():
        mask = load_mask(rt, segment=name, reference=case["reference"])
        assert_on_grid(mask, case["reference"])
        ours, theirs = array(mask), rtutils_readback(rt, case["root"] / "ct", name)
        # rt-utils contours run through the centres of the boundary pixels; filling pixel
        # centres inside *or on* the outline (and XOR for holes) restores them exactly. Should
        # rt-utils' contouring ever lose boundary pixels, the read-back is the reference and
        # the original only needs a high overlap.
        assert np.array_equal(ours, theirs), name
        assert dice(ours.astype(bool), original.astype(bool)) >= 0.98, name
        assert np.array_equal(ours, original), name


def hand_rois(reference, k: int = 5) -> dict:
    """Contours in index space (column, row) on slice k, mapped to LPS."""
    def contour(points, kind="CLOSED_PLANAR", slice_k=k):
        ijk = [(x, y, slice_k) for x, y in points]
        return (kind, grid_points(reference, ijk))

    return {
        # corners on pixel edges: exactly the pixel centres 10..19 x 20..24 are inside
        "edges": [contour([(9.5, 19.5), (19.5, 19.5), (19.5, 24.5), (9.5, 24.5)])],
        # through pixel centres, with an inner hole contour through centres too (XOR)
        "ring": [contour([(30, 30), (40, 30), (40, 40), (30, 40)]),
                 contour([(33, 33), (37, 33), (37, 37), (33, 37)])],
        # a triangle: centres strictly inside plus those on its slanted edge
        "triangle": [contour([(10, 40), (20, 40), (10, 50)])],
        "marker": [contour([(5, 5)], kind="POINT")],
        "between": [contour([(5, 5), (8, 5), (8, 8)], slice_k=k + 0.5)],
        "outside": [contour([(5, 5), (8, 5), (8, 8)], slice_k=40)],
        "CANARYNAME liver": [contour([(1, 1), (3, 1), (3, 3)])],
    }


def test_hand_made_contours_are_rasterised_by_pixel_centres(case, tmp_path):
    ref = case["reference"]
    rt = write_rtstruct_by_hand(tmp_path / "hand.dcm", case["series_uid"], hand_rois(ref))
    nz, ny, nx = ref.GetSize()[::-1]
    expected = {name: np.zeros((nz, ny, nx), np.uint8) for name in ("edges", "ring", "triangle")}
    expected["edges"][5, 20:25, 10:20] = 1
    expected["ring"][5, 30:41, 30:41] = 1
    expected["ring"][5, 34:37, 34:37] = 0  # strictly inside the hole contour
    jj, ii = np.mgrid[0:ny, 0:nx]
    expected["triangle"][5] = (ii >= 10) & (jj <= 50) & (jj >= 40) & (ii - 10 + jj - 40 <= 10)
    for name, want in expected.items():
        got = array(load_mask(rt, segment=name, reference=ref))
        assert np.array_equal(got, want), name


@pytest.mark.parametrize(("segment", "words"), [
    (None, "holds 7 ROIs"),
    ("Edges", "no ROI named 'Edges'"),
    ("marker", "no closed planar contours"),
    ("between", "not on a slice plane"),
    ("outside", "outside the series' slices 0-11"),
])
def test_rtstruct_errors(case, tmp_path, segment, words):
    rt = write_rtstruct_by_hand(tmp_path / "hand.dcm", case["series_uid"],
                                hand_rois(case["reference"]))
    with pytest.raises(InputError) as exc:
        load_mask(rt, segment=segment, reference=case["reference"])
    text = clean_error(exc, "hand.dcm")
    assert words in text
    if segment in (None, "Edges"):
        assert "'edges', 'ring', 'triangle'" in text  # the names to choose from
        assert "[redacted] liver" in text  # a patient's name typed into an ROI name


def test_rtstruct_reference(case, tmp_path):
    rt = write_rtstruct_by_hand(tmp_path / "a.dcm", "1.2.826.0.1.3680043.8.498.999", {"t": []})
    assert "mask refers to series 1.2.826.0.1.3680043.8.498.999, but the manifest chose " \
           f"series {case['series_uid']}" in check_reference(rt, case["series_uid"])
    assert check_reference(rt, "1.2.826.0.1.3680043.8.498.999") is None
    assert check_reference(case["nifti"], case["series_uid"]) is None


def test_truncated_rtstruct_contour_is_refused(case, tmp_path):
    rt = write_rtstruct_by_hand(tmp_path / "cut.dcm", case["series_uid"],
                                hand_rois(case["reference"]))
    ds = pydicom.dcmread(rt)
    ds.ROIContourSequence[0].ContourSequence[0].ContourData = \
        ds.ROIContourSequence[0].ContourSequence[0].ContourData[:6]
    ds.save_as(rt, enforce_file_format=True)
    with pytest.raises(InputError) as exc:
        load_mask(rt, segment="edges", reference=case["reference"])
    assert "6 coordinates for 4 points" in clean_error(exc, "cut.dcm")


# ------------------------------------------------------------------ multi-label images


def test_multi_label_nifti(case, tmp_path):
    labels = case["tumour"].copy()
    labels[case["other"] == 1] = 2
    image = sitk.GetImageFromArray(labels.astype(np.int16))
    image.CopyInformation(case["reference"])
    path = tmp_path / "labels.nii.gz"
    sitk.WriteImage(image, str(path))
    two = load_mask(path, segment="2")
    assert_on_grid(two, case["reference"])
    assert np.array_equal(array(two), (labels == 2).astype(np.uint8))
    with pytest.raises(InputError) as exc:
        load_mask(path)
    assert "labels 1, 2" in clean_error(exc, "labels.nii.gz")
    for bad, words in (("3", "label 3 is not in the mask; labels: 1, 2"),
                       ("liver", "not a label number")):
        with pytest.raises(InputError) as exc:
            load_mask(path, segment=bad)
        assert words in clean_error(exc, "labels.nii.gz")


def test_single_label_image_is_returned_as_read(case):
    mask = load_mask(case["nifti"], reference=case["reference"])
    assert np.array_equal(array(mask), case["tumour"])
    assert same_grid(mask_geometry(mask), mask_geometry(case["reference"])) == []


# ----------------------------------------------------------------------- corrupt files


def test_corrupt_files_name_the_file(case, tmp_path):
    data = case["seg"].read_bytes()
    files = {
        "noise.dcm": bytes(range(256)) * 16,                       # not DICOM, not an image
        "truncated.dcm": data[: len(data) - 300],                  # pixel data cut short
        "cut_header.dcm": data[:400] + bytes(range(256)) * 4,      # garbage after the meta
        "scrambled.dcm": data[:132] + bytes(b ^ 0x5A for b in data[132:600]) + data[600:],
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError) as exc:
            load_mask(path, segment="tumour", series_files=case["files"],
                      reference=case["reference"])
        clean_error(exc, name)
    with pytest.raises(InputError) as exc:
        load_mask(tmp_path / "absent.dcm")
    assert "does not exist" in clean_error(exc, "absent.dcm")
