"""``python -m cokg`` runs the command line."""

from cokg.cli import main

main()
