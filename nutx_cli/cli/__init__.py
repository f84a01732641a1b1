"""Front end: the Typer CLI (DESIGN.md §2, layer 4). Parses arguments, calls services, renders."""
