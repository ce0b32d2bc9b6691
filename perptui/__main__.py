from __future__ import annotations

import signal
import sys

if "collect" in sys.argv[1:]:
    # A stop during start-up (imports take a moment) is a clean exit 0, not a death by
    # signal; perptui.cli keeps this until the collector installs its draining handler.
    def _stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)

from perptui.cli import main

raise SystemExit(main())
