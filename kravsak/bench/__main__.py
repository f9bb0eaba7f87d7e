import sys

from kravsak.bench.main import main

sys.exit(main())
