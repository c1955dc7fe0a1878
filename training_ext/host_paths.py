"""Container paths as the user sees them on the host (runs in Docker mount host folders)."""

from __future__ import annotations

import os
import re


def on_host(text: str) -> str:
    """``text`` with container paths replaced by the host folders mounted there.

    ``$SAM2_HOST_PATHS`` (set by run_training_docker.sh) lists ``container=host`` pairs separated
    by ``;``, e.g. ``/output=/home/me/sam2_logs;/data=/srv/MOSE``.
    """
    for pair in filter(None, os.environ.get("SAM2_HOST_PATHS", "").split(";")):
        container, _, host = pair.partition("=")
        if container and host:
            text = re.sub(rf"(?<![\w/]){re.escape(container)}(?![\w.-])", host, text)
    return text
