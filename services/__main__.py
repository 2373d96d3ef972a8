"""`python -m services ...`: see services.cli."""

import gc
import sys

gc.disable()  # for start-up's imports only: services.cli turns it back on before the command runs

from services.cli import main  # noqa: E402

sys.exit(main())
