"""``python -m ollama_forge`` runs the ``forge`` CLI."""

from .cli import main

if __name__ == "__main__":
    main()
