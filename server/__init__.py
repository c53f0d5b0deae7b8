"""AI receptionist CRM: the Flask server."""

__version__ = "0.1.0"
