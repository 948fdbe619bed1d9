"""Moving sealed bundles: a folder (USB stick, shared or Syncthing folder) or a relay."""
