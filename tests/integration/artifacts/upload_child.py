"""The uploader the kill -9 test interrupts: `python -m tests.integration.artifacts.upload_child
BUNDLE FILE CHECKPOINT` uploads FILE with the serialized signed-URL answer in BUNDLE and prints
`progress DONE TOTAL` after every part, then `done SHA256`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from leoscope.api import leotest_pb2 as pb
from leoscope.artifacts import signed_url_from_response, upload_file


def main(bundle_path: str, file_path: str, checkpoint: str) -> None:
    response = pb.message_signed_url_response.FromString(Path(bundle_path).read_bytes())
    signed = signed_url_from_response(response)

    def report(done: int, total: int) -> None:
        print(f"progress {done} {total}", flush=True)

    result = upload_file(
        signed, file_path, checkpoint_path=checkpoint, progress=report, concurrency=1
    )
    print(f"done {result.sha256}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m tests.integration.artifacts.upload_child BUNDLE FILE CHECKPOINT")
    main(*sys.argv[1:4])
