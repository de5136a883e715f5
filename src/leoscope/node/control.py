"""The agent's local control socket: the node's owner talks to the running agent.

A Unix stream socket, `<data-dir>/control.sock` by default (setting `control_socket`). Only the
agent's own user (root on a deployed node) may use it, three times over: the data directory is
mode 0700, the socket is mode 0600, and every connection's peer credentials (SO_PEERCRED) must
be the agent's uid or root. Nothing listens on the network.

Protocol: one JSON object per line each way, one request per connection.

    -> {"command": "scavenger", "active": true}
    <- {"ok": true, "scavenger_mode_active": true, "changed": true, "stopping": [runids],
        "reported": true}
    -> {"command": "status"}
    <- {"ok": true, "scavenger_mode_active": false, "source": "orchestrator", ...}
    <- {"ok": false, "error": "<what was wrong>"}          any refused request

`request()` is the client side (`leoscope agent scavenger ...`); `ControlServer` the agent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
REQUEST_TIMEOUT_SECS = 5.0
SUN_PATH_MAX = 107  # bytes of an AF_UNIX path, without the terminating NUL
_PEERCRED = struct.Struct("3i")  # pid, uid, gid

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]


class ControlError(Exception):
    """The control socket could not be used, or the agent refused the request."""


class ControlPathTooLong(ControlError):
    """The socket path does not fit in a Unix socket address (108 bytes)."""


class ControlServer:
    """Serves `handlers` (command name -> coroutine taking the request) on a Unix socket."""

    def __init__(self, path: Path, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = dict(handlers)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind the socket (mode 0600). Raises ControlError if another agent holds it."""
        if len(os.fsencode(self.path)) > SUN_PATH_MAX:
            raise ControlPathTooLong(
                f"control socket path {self.path} is longer than {SUN_PATH_MAX} bytes; "
                "set control_socket (LEOSCOPE_AGENT_CONTROL_SOCKET) to a shorter path"
            )
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise ControlError(
                    f"another agent is listening on {self.path} (same data directory?)"
                )
            self.path.unlink()  # left behind by an agent that was killed
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES
        )
        os.chmod(self.path, 0o600)
        log.info("control socket %s", self.path)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            reply = await self._answer(reader, writer)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any]:
        uid = _peer_uid(writer)
        if uid is None or uid not in (0, os.geteuid()):
            log.warning("control socket: refused a client with uid %s", uid)
            return {"ok": False, "error": "permission denied: only the agent's user may control it"}
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECS):
                line = await reader.readline()
        except ValueError:
            return {"ok": False, "error": f"request larger than {MAX_REQUEST_BYTES} bytes"}
        try:
            request = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"ok": False, "error": "request is not one line of JSON"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": "request must be an object with a string 'command'"}
        handler = self.handlers.get(request["command"])
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            return {"ok": False, "error": f"unknown command {request['command']!r} ({known})"}
        try:
            return {"ok": True, **await handler(request)}
        except ControlError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("control command %s failed", request["command"])
            return {"ok": False, "error": f"the agent failed: {exc}"}


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except OSError:
        return None
    return int(_PEERCRED.unpack(raw)[1])


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True


def request(path: Path, payload: Mapping[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """Send one request to the agent at `path`; the reply. Raises ControlError, saying why."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except FileNotFoundError:
            raise ControlError(
                f"no agent is running with control socket {path} (is --data-dir right?)"
            ) from None
        except PermissionError:
            raise ControlError(
                f"permission denied on {path}: run this as the agent's user (root)"
            ) from None
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                raise ControlError(f"no agent is listening on {path}") from None
            raise ControlError(f"cannot connect to {path}: {exc.strerror or exc}") from None
        try:
            sock.sendall(json.dumps(dict(payload)).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise ControlError(f"the agent did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise ControlError(f"control socket error: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ControlError("the agent's answer is not JSON") from None
    if not isinstance(reply, dict):
        raise ControlError("the agent's answer is not a JSON object")
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error") or "the agent refused the request"))
    return reply
