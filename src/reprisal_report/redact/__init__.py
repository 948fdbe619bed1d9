"""Do-no-harm export: profiles, redaction, pseudonyms, the leak gate, disclosure
control, formats and signatures."""
