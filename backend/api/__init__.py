"""The public JSON API under /api/v1; thin edges over the service layer."""
