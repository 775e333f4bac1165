from merge.cli import main

raise SystemExit(main())
