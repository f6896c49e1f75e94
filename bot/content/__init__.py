"""What authors and translators own: dialogs, catalogs, code strings, loaded and validated."""
