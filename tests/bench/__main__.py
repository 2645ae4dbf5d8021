"""python -m tests.bench [--repeats N] [--scale S] [--out PATH]"""

from tests.bench.bench import main

raise SystemExit(main())
