"""Built-in example data for `demo` (fictional; marked as such)."""
