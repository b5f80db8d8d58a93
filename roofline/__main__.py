"""``python -m roofline``."""

import sys

from roofline.cli.main import main

sys.exit(main())
