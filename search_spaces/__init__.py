"""The built-in search spaces. Importing this package registers each of them with ``nas``."""

from . import mobile  # noqa: F401  (registers "mobile")
