"""The controlled runtime: virtual threads on greenlets, switch points, virtual time."""
