"""Reading and writing shower files."""
