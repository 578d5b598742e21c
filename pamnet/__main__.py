import sys

from pamnet.cli import main

sys.exit(main())
