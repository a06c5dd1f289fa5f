"""Rewrite the hashed answer key (mufno_lite/exercises/answer_key.json) from teacher/solutions.py.

    python teacher/make_key.py           # rewrite it (salts of unchanged answers are kept)
    python teacher/make_key.py --check   # exit 1 if the key is not in step with the solutions
"""
import argparse
import sys
from pathlib import Path

from mufno_lite.exercises import EXERCISES
from mufno_lite.exercises.key import KEY_FILE, teacher_solutions, write_key


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether the key is in step")
    args = ap.parse_args(argv)
    solutions = teacher_solutions(Path(__file__).with_name("solutions.py"))
    n, changed = write_key(EXERCISES, solutions, write=not args.check)
    if args.check:
        print(f"{KEY_FILE.name}: {'NOT in step with' if changed else 'in step with'} teacher/solutions.py ({n} answers)")
        return 1 if changed else 0
    print(f"{KEY_FILE.name}: {'rewritten' if changed else 'unchanged'} ({n} hashed answers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
