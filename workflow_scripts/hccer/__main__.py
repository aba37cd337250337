"""`python -m hccer`: how the workflow's rules run the package from its own source."""

from hccer.cli import main

raise SystemExit(main())
