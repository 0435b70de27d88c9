"""The pushes app's pages: ``tab`` (the profile's Send push tab and the card page's part) and
``campaigns`` (messages to many cards)."""
