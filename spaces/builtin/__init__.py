"""Built-in search spaces: every module here registers its space(s) with ``@register_space``; the
registry imports them all on first use (``oneshot.spaces.registry.SPACES``)."""
