"""Server-rendered citizen portal (Jinja2); calls the backend's service layer only."""
