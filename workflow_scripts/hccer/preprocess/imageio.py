"""Reading and writing NIfTI volumes with errors that name the patient and the file."""

from __future__ import annotations

import logging
from pathlib import Path

from hccer.errors import InputError

log = logging.getLogger(__name__)


def read_image(path: str | Path, patient: str | None = None, step: str = "preprocess", *,
               shown: str | None = None):
    """Read an image with SimpleITK; a missing or unreadable file becomes an InputError.
    `shown` names the file in messages instead of its path (a site's path may hold its
    patient code)."""
    import SimpleITK as sitk

    path = Path(path)
    shown = shown or str(path)
    if not path.is_file():
        raise InputError("file not found", patient=patient, file=shown, step=step)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reason"
        first = first.replace(str(path), shown).replace(path.name, shown)
        raise InputError(f"cannot read the image ({first})", patient=patient, file=shown,
                         step=step) from None


def write_image(image, path: str | Path) -> None:
    """Write via a temporary name in the same folder, then rename (no half-written outputs)."""
    import os

    import SimpleITK as sitk

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    suffix = ".nii.gz" if name.endswith(".nii.gz") else path.suffix
    tmp = path.with_name(f".{name[: len(name) - len(suffix)]}.tmp{suffix}")
    sitk.WriteImage(image, str(tmp), useCompression=True)
    os.replace(tmp, path)


def same_grid(a, b, tol: float = 1e-3) -> bool:
    """True when two images share size, spacing, origin and direction (within `tol`)."""
    import numpy as np

    return (tuple(a.GetSize())[:3] == tuple(b.GetSize())[:3]
            and np.allclose(a.GetSpacing()[:3], b.GetSpacing()[:3], atol=tol)
            and np.allclose(a.GetOrigin()[:3], b.GetOrigin()[:3], atol=tol)
            and np.allclose(_dir3(a), _dir3(b), atol=tol))


def _dir3(img):
    import numpy as np

    d = np.asarray(img.GetDirection(), float)
    n = img.GetDimension()
    return d.reshape(n, n)[:3, :3]


def grid_text(img) -> str:
    sp = ", ".join(f"{s:g}" for s in img.GetSpacing()[:3])
    org = ", ".join(f"{o:.2f}" for o in img.GetOrigin()[:3])
    size = "x".join(str(s) for s in img.GetSize())
    return f"size {size}, spacing ({sp}) mm, origin ({org})"
