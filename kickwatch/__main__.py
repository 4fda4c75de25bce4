"""`python -m kickwatch` is the `kickwatch` command."""
import sys

from kickwatch.cli import main

sys.exit(main())
