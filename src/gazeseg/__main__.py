import sys

from gazeseg.cli import main

sys.exit(main())
