import sys

from touchline.shared.stack.cli import main

sys.exit(main())
