"""``python -m kumahc``: the same command line as the ``kumahc`` console script."""

from kumahc.cli import main

if __name__ == "__main__":
    main()
