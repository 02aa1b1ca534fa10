import sys

from dashapp.cli.main import main

sys.exit(main())
