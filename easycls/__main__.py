"""`python -m easycls ...`: the same as the `easycls` command."""
import sys

from .cli import main

sys.exit(main())
