import sys

from knowledge_dynamics.cli import main

sys.exit(main())
