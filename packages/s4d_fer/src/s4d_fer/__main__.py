from s4d_fer.cli import main

raise SystemExit(main())
