"""What the law requires a public portal to say about itself: Impressum, privacy, accessibility."""
