"""The per-patient digest of supplied files: stable while nothing changes, different after any
change a user makes to the patient's DICOM, masks or override rows."""

import os

from hccer.ingest.tracking import folder_states, inputs_digest


def test_digest_moves_with_every_kind_of_edit_and_only_then(tmp_path):
    dicom = tmp_path / "SITE01"
    (dicom / "s1").mkdir(parents=True)
    (dicom / "s1" / "a.dcm").write_bytes(b"x" * 10)
    (tmp_path / "m.nii.gz").write_bytes(b"m")
    rows = [{"phase": "ART", "reader": "r1", "path": "m.nii.gz"}]
    base = inputs_digest(dicom, rows, tmp_path, [])
    assert base == inputs_digest(dicom, rows, tmp_path, []) and len(base) == 64
    assert folder_states(dicom) == [f"s1/a.dcm\t10:{os.stat(dicom / 's1' / 'a.dcm').st_mtime_ns}"]
    later = os.stat(tmp_path / "m.nii.gz").st_mtime_ns + 10**9
    os.utime(tmp_path / "m.nii.gz", ns=(later, later))
    moved = inputs_digest(dicom, rows, tmp_path, [])
    (dicom / "s1" / "b.dcm").write_bytes(b"y")
    added = inputs_digest(dicom, rows, tmp_path, [])
    other_row = inputs_digest(dicom, [dict(rows[0], reader="r2")], tmp_path, [])
    override = inputs_digest(dicom, rows, tmp_path, [{"patient": "p1", "phase": "ART",
                                                      "series_key": "k"}])
    unreadable = inputs_digest(dicom, "mask sheet lacks column(s) path", tmp_path, [])
    assert len({base, moved, added, other_row, override, unreadable}) == 6
