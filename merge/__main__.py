from merge.cli.commands import main

raise SystemExit(main())
