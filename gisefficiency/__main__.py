"""``python -m gisefficiency`` runs the command line."""

from gisefficiency.cli import main

main()
