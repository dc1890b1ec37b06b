"""Local stand-ins for remote services (the Hugging Face Hub, Ollama) used by the tests."""
