from keyless.cli import script

script()
