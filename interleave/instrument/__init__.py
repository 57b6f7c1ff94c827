"""Switch-point sources: which code is instrumented and which instructions can switch."""
