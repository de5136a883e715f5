"""The sample latency experiment `leoscope up` schedules, and what it needs on this host.

The experiment pings a target and times TCP connects to a port on it, then writes
`/artifacts/latency.csv` with the columns `kind,seq,target,rtt_ms` (kind `ping` or
`tcp_connect`). It reads its target from its own experiment config (`target_host`,
`target_port`, `count`), as real experiment images do.

Two forms of the same experiment:

* Docker: an image built locally, without any registry, from the host's static busybox
  (`docker import` of a root filesystem with one symlink per applet); its CMD is a busybox `sh`
  script that uses `ping`, `nc` and `ts` (for microsecond timestamps). A TCP time includes
  starting `nc` (about a millisecond).
* Process runtime (no Docker): a small Python script with the same output.

`LatencyTarget` is the TCP listener the connects go to: it accepts and closes.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import shutil
import statistics
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml

DEMO_REPO = "leoscope-demo/latency"
RESULTS_FILE = "latency.csv"

SHELL_SCRIPT = r"""
cfg=/artifacts/experiment-config.yaml
value() { sed -n "s/^ *$1: *['\"]*\([0-9.]*\).*/\1/p" "$cfg" | head -n 1; }
host=$(value target_host); port=$(value target_port); count=$(value count)
out=/artifacts/latency.csv
echo "kind,seq,target,rtt_ms" > "$out"
echo "pinging $host and timing TCP connects to $host:$port, $count times each"
ping -c "$count" -i 0.2 -W 2 "$host" \
  | sed -n "s/.*seq=\([0-9]*\).*time=\([0-9.]*\) ms.*/ping,\1,$host,\2/p" >> "$out"
i=1
while [ "$i" -le "$count" ]; do
  { echo s; nc -w 2 "$host" "$port" </dev/null >/dev/null 2>&1; echo "e $?"; } \
    | ts '%.s' \
    | awk -v seq="$i" -v t="$host:$port" \
        'NR==1{s=$1} NR==2{if ($3==0) printf "tcp_connect,%d,%s,%.3f\n", seq, t, ($1-s)*1000}' \
    >> "$out"
  i=$((i+1)); sleep 0.2
done
echo "wrote $(($(wc -l < "$out") - 1)) measurements to $out"
"""

PYTHON_SCRIPT = r"""
import csv, os, pathlib, re, shutil, socket, subprocess, time
run_dir = pathlib.Path(os.environ.get("LEOSCOPE_ARTIFACTS", "."))
config = (run_dir / "experiment-config.yaml").read_text()
def value(key):
    return re.search(rf"^\s*{key}:\s*['\"]?([0-9.]+)", config, re.M).group(1)
host, port, count = value("target_host"), int(value("target_port")), int(value("count"))
rows = []
if shutil.which("ping"):
    out = subprocess.run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", host],
                         capture_output=True, text=True).stdout
    for m in re.finditer(r"(?:icmp_seq|seq)=(\d+).*?time=([0-9.]+) ms", out):
        rows.append(("ping", int(m.group(1)), host, float(m.group(2))))
for seq in range(1, count + 1):
    began = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=2):
            rows.append(("tcp_connect", seq, f"{host}:{port}", round((time.perf_counter() - began) * 1000, 3)))
    except OSError as exc:
        print(f"connect {seq} failed: {exc}")
    time.sleep(0.2)
with (run_dir / "latency.csv").open("w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["kind", "seq", "target", "rtt_ms"])
    writer.writerows(rows)
print(f"wrote {len(rows)} measurements to latency.csv")
"""


class LatencyTarget:
    """A TCP listener on 127.0.0.1 that accepts each connection and closes it."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> LatencyTarget:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def experiment_config(
    *, image: str | None, script: Path | None, python: str, port: int, count: int = 5
) -> str:
    """The job's config: the docker image, or the process command, plus the target."""
    config: dict[str, object] = {
        "tests": {"target_host": "127.0.0.1", "target_port": port, "count": count}
    }
    if image is not None:
        config["docker"] = {"image": image, "execute": {"name": "latency"}}
    if script is not None:
        config["process"] = {"command": [python, str(script)]}
    return yaml.safe_dump(config, sort_keys=False)


def write_python_experiment(directory: Path) -> Path:
    path = directory / "latency_experiment.py"
    path.write_text(PYTHON_SCRIPT)
    return path


# ---------------------------------------------------------------------------- the image


def _rootfs(busybox: Path) -> bytes:
    listing = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in sorted(set(listing.stdout.split()) - {"busybox"}):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buffer.getvalue()


def ensure_image() -> tuple[str | None, str]:
    """Build (or reuse) the Docker form of the experiment: (image tag, why not) ."""
    busybox = shutil.which("busybox")
    if busybox is None:
        return None, "busybox is not installed (apt-get install busybox-static)"
    try:
        import docker
        import docker.errors
    except ImportError:
        return None, "the docker SDK is not installed (pip install 'leoscope[node]')"
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # no engine, no permission, ...
        return None, f"the Docker engine is not reachable ({type(exc).__name__})"
    try:
        content = hashlib.sha256(Path(busybox).read_bytes() + SHELL_SCRIPT.encode()).hexdigest()
        tag = f"{DEMO_REPO}:{content[:16]}"
        try:
            client.images.get(tag)
            return tag, ""
        except docker.errors.ImageNotFound:
            pass
        changes = [
            "ENV PATH=/bin",
            f"CMD {json.dumps(['sh', '-c', SHELL_SCRIPT])}",
        ]
        client.api.import_image_from_data(
            _rootfs(Path(busybox)), repository=DEMO_REPO, tag=content[:16], changes=changes
        )
        client.images.get(tag)
        return tag, ""
    except Exception as exc:
        return None, f"building the demo image failed: {exc}"
    finally:
        client.close()


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LatencySummary:
    kind: str
    count: int
    min_ms: float
    avg_ms: float
    max_ms: float


def summarize(csv_text: str) -> list[LatencySummary]:
    """min/avg/max per kind of measurement in a latency.csv."""
    by_kind: dict[str, list[float]] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        try:
            by_kind.setdefault(row["kind"], []).append(float(row["rtt_ms"]))
        except (KeyError, TypeError, ValueError):
            continue
    return [
        LatencySummary(kind, len(v), min(v), statistics.fmean(v), max(v))
        for kind, v in sorted(by_kind.items())
    ]
