"""One module per sub-command: ``register(subparsers)`` adds it, ``args.run(args)`` runs it."""
