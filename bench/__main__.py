"""``python -m bench``: the same as ``python -m bench.run``."""

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main())
