"""`python -m glue_pipes_local_aws serve --port N`: what the background server runs (any action works)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
