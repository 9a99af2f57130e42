"""The commands, grouped as the README lists them."""
