"""A long adversarial run against a real ``aicockpit serve`` on the tiny model; prints its figures.

    PYTHONPATH=server .venv/bin/python scripts/adversarial.py --count 20000 --seed 1

The test suite runs a short one (tests/e2e/test_adversarial.py); both use tests/hostile.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile import adversarial_session  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="hostile items before shutdown")
    parser.add_argument("--after-shutdown", type=int, default=1000, help="hostile items after shutdown")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-wait", action="store_true", help="start while the engine is still loading")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "aicockpit-adversarial.log")
    args = parser.parse_args()
    result = asyncio.run(
        adversarial_session(args.count, args.seed, args.log, not args.no_wait, args.after_shutdown)
    )
    ok = result["report"].ok() and result["after_shutdown"].ok() and not result["tracebacks"]
    result = {k: asdict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in result.items()}
    for part in ("report", "after_shutdown"):
        for key in ("missing", "duplicated", "dropped_but_answered", "unexpected"):
            result[part][key] = result[part][key][:20]  # a sample is enough to start from
    print(json.dumps(result, indent=2, default=str))
    print(f"server log: {args.log}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
