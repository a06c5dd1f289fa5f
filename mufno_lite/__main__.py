"""``python -m mufno_lite …``: see :mod:`mufno_lite.cli`."""
import sys

if __name__ == "__main__":
    try:
        from .cli import main
    except KeyboardInterrupt:  # Ctrl-C while the package imports: one line, no traceback
        print("\ninterrupted (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
else:
    from .cli import main  # noqa: F401
