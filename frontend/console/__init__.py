"""Supervision console (HTML, under /console): the owning department's side of the platform."""
