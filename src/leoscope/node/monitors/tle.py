"""Two-line element sets: validation, parsing, download and the on-disk cache.

Every entry is checked before use: both lines 69 columns long, each line's modulo-10 checksum
correct, the same catalogue number on both lines, and accepted by SGP4. A bad entry is skipped
with a warning; the rest of the file is still used. The cache is one file, replaced atomically
and stamped with the download time, so a restart without network goes on with the last set.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sgp4.api import Satrec

from .base import SourceError

log = logging.getLogger(__name__)

CACHE_FILE_NAME = "tle-cache.txt"
TLE_LINE_LENGTH = 69


@dataclass(frozen=True)
class TleEntry:
    name: str
    line1: str
    line2: str

    @property
    def catalog_number(self) -> str:
        return self.line1[2:7].strip()


def tle_checksum(line: str) -> int:
    """The modulo-10 checksum of a TLE line's first 68 columns (digits count, '-' counts 1)."""
    total = 0
    for char in line[:68]:
        if char.isdigit():
            total += int(char)
        elif char == "-":
            total += 1
    return total % 10


def _line_problem(line: str, number: str) -> str | None:
    if len(line) < TLE_LINE_LENGTH:
        return f"line {number} has {len(line)} columns, expected {TLE_LINE_LENGTH}"
    if not line[68].isdigit():
        return f"line {number} has no checksum digit"
    if tle_checksum(line) != int(line[68]):
        return f"line {number} checksum is {line[68]}, computed {tle_checksum(line)}"
    return None


def validate_tle(entry: TleEntry) -> str | None:
    """Why this entry is unusable, or None when it is a valid two-line element set."""
    for line, number in ((entry.line1, "1"), (entry.line2, "2")):
        problem = _line_problem(line, number)
        if problem:
            return problem
    if entry.line1[2:7] != entry.line2[2:7]:
        return "catalogue numbers of line 1 and line 2 differ"
    try:
        Satrec.twoline2rv(entry.line1, entry.line2)
    except Exception as exc:  # sgp4 raises ValueError (and others) on malformed fields
        return f"not parseable by SGP4: {exc}"
    return None


def parse_tle_text(text: str) -> list[TleEntry]:
    """Parse two- or three-line TLE text; invalid entries are skipped with a warning."""
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    entries: list[TleEntry] = []
    skipped = 0
    name = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("1 ") and i + 1 < len(lines) and lines[i + 1].startswith("2 "):
            entry = TleEntry(name or line[2:7].strip(), line, lines[i + 1])
            problem = validate_tle(entry)
            if problem is None:
                entries.append(entry)
            else:
                skipped += 1
                log.warning("tle=%r skipped: %s", entry.name, problem)
            name = ""
            i += 2
            continue
        if line.startswith(("1 ", "2 ")):
            skipped += 1
            log.warning(
                "tle line %d skipped: no matching %s",
                i + 1,
                "line 2" if line[0] == "1" else "line 1",
            )
            name = ""
        else:
            name = line[2:].strip() if line.startswith("0 ") else line.strip()
        i += 1
    if skipped:
        log.warning("tle entries_skipped=%d entries_kept=%d", skipped, len(entries))
    return entries


class TleCache:
    """The last good TLE download, kept as one file so a restart works offline."""

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.directory = Path(cache_dir)
        self.path = self.directory / CACHE_FILE_NAME

    def load(self) -> tuple[str, float] | None:
        """(text, fetched_at epoch seconds) or None when there is no cache."""
        try:
            return self.path.read_text(
                encoding="ascii", errors="replace"
            ), self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def save(self, text: str, fetched_at: float) -> None:
        """Replace the cache atomically, stamping the file's mtime with the fetch time."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tle-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="ascii", errors="replace") as handle:
                handle.write(text)
            os.utime(tmp, (fetched_at, fetched_at))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


async def fetch_tle_text(session: aiohttp.ClientSession, url: str) -> tuple[str, list[TleEntry]]:
    """Download and parse a TLE set; raises SourceError when the answer holds no valid entry."""
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise SourceError(f"TLE download answered HTTP {response.status}")
            text = await response.text(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SourceError(f"TLE download failed: {type(exc).__name__}: {exc}") from exc
    entries = await asyncio.to_thread(parse_tle_text, text)
    if not entries:
        raise SourceError(f"TLE download held no valid element set ({text[:80]!r})")
    return text, entries
