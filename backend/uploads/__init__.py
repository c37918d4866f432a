"""Documents citizens attach to applications: checked by content, stored with the draft."""
