"""Local test images, built without any registry.

No image can be pulled here, so tests build their own: `docker import` of a root filesystem
holding the host's static busybox (Debian's busybox-static) with a symlink per applet. Images
carry a content label (a hash of the busybox binary and this recipe), so a stale image under
the same tag is rebuilt and an up-to-date one is reused. Building is guarded by a file lock,
so pytest-xdist workers calling this at the same time build it once.

Usage in a test:

    require(docker_available(), "Docker")
    image = ensure_busybox_image()
    image = ensure_image_with_cmd(["sh", "-c", "echo hi > /artifacts/x"])
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import docker
import docker.errors

BUSYBOX_TAG = "leoscope-test/busybox:latest"
CMD_IMAGE_REPO = "leoscope-test/busybox-cmd"
CONTENT_LABEL = "org.leoscope.test.content"
_RECIPE_VERSION = "1"
_LOCK_PATH = Path(os.environ.get("TMPDIR", "/tmp")) / "leoscope-test-images.lock"
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def docker_client() -> docker.DockerClient:
    """A Docker SDK client from the environment (the caller closes it)."""
    return docker.from_env(timeout=60)


def _busybox_path() -> Path:
    found = shutil.which("busybox") or "/usr/bin/busybox"
    path = Path(found)
    if not path.is_file():
        raise RuntimeError("busybox is not installed (apt-get install busybox-static)")
    return path


def _applets(busybox: Path) -> list[str]:
    listing = subprocess.run(
        [str(busybox), "--list"], check=True, capture_output=True, text=True
    ).stdout
    return sorted({name.strip() for name in listing.split() if name.strip() not in ("", "busybox")})


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _rootfs_tar(busybox: Path, applets: Sequence[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "etc", "root", "proc", "sys", "dev", "usr", "usr/bin"):
            _add_dir(tar, directory)
        _add_dir(tar, "tmp", 0o1777)
        _add_bytes(tar, "bin/busybox", busybox.read_bytes(), 0o755)
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            link.mode = 0o777
            tar.addfile(link)
        _add_bytes(tar, "etc/passwd", _PASSWD.encode())
        _add_bytes(tar, "etc/group", _GROUP.encode())
    return buffer.getvalue()


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    with _LOCK_PATH.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _image_label(client: docker.DockerClient, tag: str) -> str | None:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(CONTENT_LABEL)


def _import(client: docker.DockerClient, tag: str, rootfs: bytes, changes: Sequence[str]) -> None:
    repository, _, version = tag.rpartition(":")
    client.api.import_image_from_data(
        rootfs, repository=repository, tag=version, changes=list(changes)
    )


def _ensure(tag: str, content: str, cmd: Sequence[str]) -> str:
    """Build `tag` from busybox with `cmd` unless an image with this content label exists."""
    client = docker_client()
    try:
        if _image_label(client, tag) == content:
            return tag
        with _build_lock():
            if _image_label(client, tag) == content:
                return tag
            busybox = _busybox_path()
            changes = [
                "ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin",
                f"CMD {json.dumps(list(cmd))}",
                f"LABEL {CONTENT_LABEL}={content}",
            ]
            _import(client, tag, _rootfs_tar(busybox, _applets(busybox)), changes)
            if _image_label(client, tag) != content:
                raise RuntimeError(f"built {tag} but the engine does not show it")
            return tag
    finally:
        client.close()


def _busybox_digest() -> str:
    busybox = _busybox_path()
    digest = hashlib.sha256(busybox.read_bytes())
    digest.update(_RECIPE_VERSION.encode())
    return digest.hexdigest()[:16]


def ensure_busybox_image(tag: str = BUSYBOX_TAG) -> str:
    """The busybox test image (CMD ["/bin/sh"]); built on first use, then reused. Returns `tag`."""
    return _ensure(tag, _busybox_digest(), ["/bin/sh"])


def ensure_image_with_cmd(cmd: Sequence[str], tag: str | None = None) -> str:
    """A busybox test image whose own CMD is `cmd` (for tests of "the image's CMD runs").

    The tag defaults to one derived from the command, so equal commands share an image.
    """
    if isinstance(cmd, str) or not cmd:
        raise ValueError("cmd must be a non-empty list of arguments")
    content = hashlib.sha256((_busybox_digest() + json.dumps(list(cmd))).encode()).hexdigest()[:16]
    return _ensure(tag or f"{CMD_IMAGE_REPO}:{content}", content, cmd)
