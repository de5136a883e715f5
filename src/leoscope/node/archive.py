"""A run directory as one zip: `<runid>.zip` with the single top-level folder `<runid>/`.

The zip is written to a temporary name and renamed into place, so a crash mid-way never leaves
a truncated archive under the final name; an archive that already exists is reused (after a
restart the same bytes are delivered again, so delivery stays idempotent). Symlinks in the run
directory are stored as links, never followed: an experiment cannot make the agent archive
files outside its own directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

from .seams import Archive

# Runtime bookkeeping that may sit in a run directory (e.g. the process runtime's record).
_PRIVATE_PREFIX = ".leoscope"


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _add_symlink(zf: zipfile.ZipFile, source: Path, arcname: str) -> None:
    info = zipfile.ZipInfo(arcname)
    info.create_system = 3  # unix, so the mode bits below mean "symlink"
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, os.readlink(source))


def make_archive(run_dir: Path, runid: str, target: Path) -> Archive:
    """Zip `run_dir` into `target` (blocking; run it in a thread). Reuses an existing target."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.writestr(zipfile.ZipInfo(f"{runid}/"), b"")
            if run_dir.is_dir():
                for dirpath, dirnames, filenames in os.walk(run_dir, followlinks=False):
                    dirnames.sort()
                    base = Path(dirpath)
                    rel_dir = base.relative_to(run_dir)
                    for name in sorted(dirnames):
                        if (base / name).is_symlink():
                            _add_symlink(zf, base / name, f"{runid}/{(rel_dir / name).as_posix()}")
                    for name in sorted(filenames):
                        if name.startswith(_PRIVATE_PREFIX):
                            continue
                        source = base / name
                        arcname = f"{runid}/{(rel_dir / name).as_posix()}"
                        if source.is_symlink():
                            _add_symlink(zf, source, arcname)
                        elif source.is_file():
                            zf.write(source, arcname)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    return Archive(path=target, sha256=_sha256(target), size=target.stat().st_size)
