"""Regenerate the golden values (tests/golden/*.json) and print what changed.

The ONLY way to change the golden values. Run it after a deliberate change of results
(e.g. a recalibrated default model), read the differences it prints, and say in the
commit message why they are expected; reviewers check that diff. ``--check`` prints the
differences without writing.

Usage::

    python tests/golden/update.py            # rewrite every file, print the diff
    python tests/golden/update.py --check    # only print the diff (exit 1 if any)
    python tests/golden/update.py stim2      # only some studies
"""

import argparse
import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS.parent / "src")]  # this checkout's tfrsim first

import golden_values as g  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("studies", nargs="*", help=f"default: all of {list(g.STUDIES)}")
    parser.add_argument("--check", action="store_true", help="print differences only")
    args = parser.parse_args()
    changed = 0
    for name in args.studies or list(g.STUDIES):
        new = g.compute(name)
        old = g.load(name) if g.path(name).is_file() else {}
        diff = g.differences(old, new)
        changed += bool(diff)
        print(f"== {name}: {'unchanged' if not diff else f'{len(diff)} difference(s)'}")
        for line in diff:
            print(f"   {line}")
        if diff and not args.check:
            g.GOLDEN_DIR.mkdir(exist_ok=True)
            text = json.dumps(new, indent=1, sort_keys=True) + "\n"
            g.path(name).write_text(text, encoding="utf-8")
            print(f"   wrote {g.path(name)}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
