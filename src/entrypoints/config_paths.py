"""Where flwd looks for its configuration file, first found wins (stdlib only: the hand-off
client reads this before anything else)."""

from __future__ import annotations

import os
from typing import Mapping


def config_candidates(env: Mapping[str, str]) -> tuple[str, ...]:
    """``flwd.yaml`` in the working directory, then the user's, then the system's."""
    home = os.path.expanduser(env.get("HOME", "~"))
    return ("flwd.yaml", os.path.join(home, ".config/flwd/flwd.yaml"), "/etc/flwd/flwd.yaml")
