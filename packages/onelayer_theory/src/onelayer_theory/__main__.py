from onelayer_theory.cli import main

raise SystemExit(main())
