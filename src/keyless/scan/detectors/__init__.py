"""Secret detectors: keyless's own patterns, detect-secrets' plugins and config regexes."""
