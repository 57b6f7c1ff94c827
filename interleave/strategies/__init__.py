"""Who runs next: one strategy per module, all behind the protocol in ``base``."""
