"""git hook scripts that `keyless install-hooks` copies into a repository."""
