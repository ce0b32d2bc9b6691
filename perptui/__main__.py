from __future__ import annotations

from perptui.cli import main

raise SystemExit(main())
